/**
 * Job processors: thin functions that call one service each. Registered by the
 * server in embedded mode (in-process queue) and by `slipway worker` with Redis.
 */
import type { Services } from '../services.js'

export const JOBS = {
  reclaimUploads: 'reclaim-uploads',
} as const

/** How often staged uploads past their expiry are reclaimed. */
const RECLAIM_EVERY_MS = 15 * 60 * 1000

export async function registerWorkers(services: Services): Promise<void> {
  const { queue, uploads } = services
  queue.handle(JOBS.reclaimUploads, async () => {
    await uploads.reclaimExpired()
  })
  await queue.every(JOBS.reclaimUploads, RECLAIM_EVERY_MS)
}

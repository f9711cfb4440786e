/**
 * Job processors: thin functions that call one service each. Registered by the
 * server in embedded mode (in-process queue) and by `slipway worker` with Redis.
 */
import { DELTA_JOBS } from '../domain/delta-service.js'
import type { Services } from '../services.js'

export const JOBS = {
  reclaimUploads: 'reclaim-uploads',
  ...DELTA_JOBS,
} as const

/** How often staged uploads past their expiry are reclaimed. */
const RECLAIM_EVERY_MS = 15 * 60 * 1000

export async function registerWorkers(services: Services): Promise<void> {
  const { queue, uploads, deltas } = services
  queue.handle(JOBS.reclaimUploads, async () => {
    await uploads.reclaimExpired()
  })
  await queue.every(JOBS.reclaimUploads, RECLAIM_EVERY_MS)
  // one build at a time per process: a build already uses every core and the whole memory budget
  queue.handle<{ sourceSha256: string; targetSha256: string }>(JOBS.build, (job) => deltas.build(job.data, job.attempt))
  queue.handle<{ releaseId: string }>(JOBS.plan, async (job) => {
    await deltas.plan(job.data.releaseId)
  })
}

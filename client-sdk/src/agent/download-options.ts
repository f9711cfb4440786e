/**
 * The download settings every payload shares (OS image, delta patch, model): the
 * device's signed headers, resume from the journal's checkpoint, checkpoints written back
 * to the journal, and the operator's bandwidth cap, redirect allow-list and retries.
 */
import type { Checkpoint } from '../net/downloader.js'
import type { UpdateContext } from './context.js'
import { failpoint } from './failpoint.js'

export function downloadOptions(ctx: UpdateContext) {
  const u = ctx.journal.update!
  const d = ctx.config.download
  return {
    http: ctx.http,
    authHeaders: (url: URL) => ctx.api.authHeaders('GET', url),
    ...(u.download && u.download.offset > 0 ? { resume: u.download } : {}),
    onCheckpoint: async (c: Checkpoint) => {
      await ctx.journal.change((s) => {
        if (s.update) s.update.download = c
      })
      failpoint('checkpoint')
    },
    checkpointBytes: d?.checkpointBytes ?? 64 << 20,
    bandwidthBytesPerSecond: d?.bandwidthBytesPerSecond,
    allowedRedirectHosts: d?.allowedRedirectHosts ?? [],
    ...(d?.retries !== undefined ? { retries: d.retries } : {}),
    ...(d?.retryDelayMs !== undefined ? { retryDelayMs: d.retryDelayMs } : {}),
    // a dripping server ends in NETWORK_ERROR and a back-off instead of holding the agent forever
    deadlineMs: (d?.deadlineSeconds ?? 4 * 3600) * 1000,
    minBytesPerSecond: d?.minBytesPerSecond ?? 64,
    lowSpeedWindowMs: (d?.lowSpeedWindowSeconds ?? 60) * 1000,
    onProgress: (offset: number, total: number) => ctx.progress?.(offset, total),
    ...(ctx.stop ? { stop: ctx.stop } : {}),
  }
}

/** Job names and the small helpers that enqueue them. */
import { DELTA_JOBS } from '../domain/delta-service.js'
import type { JobQueue } from '../domain/ports.js'

export const JOBS = {
  reclaimUploads: 'reclaim-uploads',
  ...DELTA_JOBS,
  evaluateRollout: 'evaluate-rollout',
  rolloutsTick: 'rollouts-tick',
  pruneDownloads: 'prune-downloads',
  ...DELTA_JOBS,
} as const

/** Coalescing window of evaluate-rollout: reports within it share one evaluation that starts after it. */
const EVALUATE_WINDOW_MS = 200

/**
 * Ask for a rollout to be evaluated soon. Reports arriving together share one job (job
 * id = rollout id + time window); a report arriving while an evaluation runs gets the
 * next window's job, so no report is left unevaluated until the tick.
 */
export function evaluateSoon(queue: JobQueue, rolloutId: string): void {
  const window = Math.floor(Date.now() / EVALUATE_WINDOW_MS)
  queue
    .enqueue(JOBS.evaluateRollout, { rolloutId }, { jobId: `rollout-${rolloutId}-${window}`, attempts: 3, backoffMs: 200 })
    .catch(() => {
      // the periodic tick evaluates every running rollout anyway
    })
}

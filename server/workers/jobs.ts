/** Job names and the small helpers that enqueue them. */
import { DELTA_JOBS } from '../domain/deltas/delta-service.js'
import type { JobQueue } from '../domain/ports/infrastructure.js'

export const JOBS = {
  reclaimUploads: 'reclaim-uploads',
  ...DELTA_JOBS,
  evaluateRollout: 'evaluate-rollout',
  rolloutsTick: 'rollouts-tick',
  pruneDownloads: 'prune-downloads',
  ...DELTA_JOBS,
} as const

/**
 * Ask for a rollout to be evaluated soon (after the report's transaction committed).
 * Reports arriving while an evaluation waits share it; a report arriving while one
 * runs gets exactly one more evaluation after it (the running one may have read the
 * members before the report landed), so no report waits for the tick.
 */
export function evaluateSoon(queue: JobQueue, rolloutId: string): void {
  queue
    .enqueue(JOBS.evaluateRollout, { rolloutId }, { coalesce: `rollout-${rolloutId}`, attempts: 3, backoffMs: 200 })
    .catch(() => {
      // the periodic tick evaluates every running rollout anyway
    })
}

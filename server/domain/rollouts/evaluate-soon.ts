/** How a report asks for its rollout's verdict without waiting for it. */
import { JOBS } from '../jobs.js'
import type { JobQueue } from '../ports/infrastructure.js'

/**
 * Ask for a rollout to be evaluated soon (after the report's transaction committed).
 * Reports arriving while an evaluation waits share it; a report arriving while one
 * runs gets exactly one more evaluation after it (the running one may have read the
 * members before the report landed), so no report waits for the tick.
 */
export function evaluateSoon(queue: Pick<JobQueue, 'enqueue'>, rolloutId: string): void {
  queue
    .enqueue(JOBS.evaluateRollout, { rolloutId }, { coalesce: `rollout-${rolloutId}`, attempts: 3, backoffMs: 200 })
    .catch(() => {
      // the periodic tick evaluates every running rollout anyway
    })
}

/**
 * Rules both JobQueue adapters share, so the embedded queue and BullMQ behave the
 * same: defaults, job id validation, backoff, retention of finished jobs, and how a
 * handler's error is classified.
 *
 * Dedup and retention (one rule for both adapters):
 * - A finished job (completed or failed) is kept so `status()` can report it: the
 *   newest KEEP_COMPLETED completed and KEEP_FAILED failed jobs per job name
 *   (BullMQ `removeOnComplete: { count }` / `removeOnFail: { count }`).
 * - Enqueueing with a `jobId` that is waiting, delayed or active is a no-op that
 *   returns the same id (the port's contract).
 * - Enqueueing with a `coalesce` key whose job is waiting or delayed is a no-op; whose
 *   job is active queues exactly one follow-up run (several such enqueues still make
 *   one), created when the active job finishes. A job that must see every change
 *   (a rollout evaluation after a report) uses it: a plain jobId would fold a report
 *   that arrives mid-run into a run that has already read the state.
 * - Enqueueing with a `jobId` whose job has finished replaces the finished record
 *   and runs again. BullMQ by itself would NOT do this: its add script ignores any
 *   id whose job hash still exists, in any state, until removeOnComplete/removeOnFail
 *   or `clean` deletes it. So the BullMQ adapter removes a finished record before it
 *   adds (see bullmq-queue.ts), and the in-process queue does the same in memory.
 */
import { invalid } from '../../domain/errors.js'
import { PermanentJobError } from '../../domain/ports/infrastructure.js'

/** Total tries including the first, when JobOptions.attempts is not given. */
export const DEFAULT_ATTEMPTS = 3
/** Exponential backoff base in milliseconds, when JobOptions.backoffMs is not given. */
export const DEFAULT_BACKOFF_MS = 1000
/** Completed jobs kept per job name for status(). */
export const KEEP_COMPLETED = 1000
/** Failed jobs kept per job name, longer than completed ones: they are what operators look into. */
export const KEEP_FAILED = 5000

/**
 * BullMQ refuses integer custom ids (they would collide with its own counter ids)
 * and ids containing ':' (its key separator). Both adapters refuse them, so code
 * that works embedded also works on Redis.
 */
export function validateJobId(jobId: string | undefined): void {
  if (jobId === undefined) return
  if (jobId === '' || `${parseInt(jobId, 10)}` === jobId || jobId.includes(':')) {
    throw invalid('INVALID_JOB_ID', 'a job id must be non-empty, not an integer, and contain no ":"', { jobId })
  }
}

/**
 * A coalescing key follows the job id rules (BullMQ keeps it in a Redis key) and
 * replaces the job id: the two dedup rules would contradict each other.
 */
export function validateCoalesce(opts: { jobId?: string; coalesce?: string }): void {
  if (opts.coalesce === undefined) return
  validateJobId(opts.coalesce)
  if (opts.jobId !== undefined) throw invalid('INVALID_JOB_ID', 'give a job either a jobId or a coalesce key, not both', { jobId: opts.jobId })
}

/** Wait before retry n (n = tries failed so far): backoffMs * 2^(n-1), as BullMQ's 'exponential'. */
export function backoffDelay(backoffMs: number, failedTries: number): number {
  return Math.round(backoffMs * 2 ** (failedTries - 1))
}

/** A handler's decision that retrying cannot help (also accepts a copy of the class from another bundle). */
export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentJobError || (typeof err === 'object' && err !== null && 'permanent' in err && err.permanent === true)
}

/** What status().failedReason shows: the error message, or the thrown value as text. */
export function failureMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

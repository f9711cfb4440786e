/**
 * How an update step's error ends a tick, for OS images and models alike:
 *  - AGENT_STOPPING (SIGTERM): nothing failed, the update resumes at the next start;
 *  - transient (network, 5xx, a resume the server no longer serves): retried next
 *    tick, up to `download.maxAttempts` ticks in a row that made no progress
 *    (a tick that got the download further never uses up an attempt);
 *  - anything else: `failed` is journaled and reported. A full data folder
 *    (DATA_NO_SPACE) first frees staging and the reserve so that the journal
 *    and the report can still be written.
 */
import { rm } from 'node:fs/promises'
import { AgentError, reasonOf } from '../errors.js'
import type { StepOutcome, UpdateContext } from './context.js'
import { freeDataSpace, isRawNoSpace } from './data-space.js'
import { reportTerminal } from './events.js'
import { failpoint } from './failpoint.js'

const TRANSIENT = new Set(['NETWORK_ERROR', 'SERVER_ERROR', 'DOWNLOAD_TRUNCATED', 'DOWNLOAD_RESUME_MISMATCH', 'CREDENTIAL_REJECTED', 'NOT_ENROLLED'])

/** Ticks an update may fail transiently without progress before it is given up as failed (default 10). */
export const DEFAULT_MAX_ATTEMPTS = 10

export async function settleUpdateError(ctx: UpdateContext, e: unknown, offsetBefore: number): Promise<StepOutcome> {
  const { journal } = ctx
  const u = journal.update
  if (!u) throw e
  const err = isRawNoSpace(e) ? new AgentError('DATA_NO_SPACE', `the data folder is full: ${(e as Error).message}`, {}, { cause: e }) : e
  const reason = reasonOf(err)
  if (reason.code === 'AGENT_STOPPING') {
    ctx.log('info', 'update paused for shutdown', { step: u.step })
    return 'retry-later'
  }
  if (reason.code === 'DATA_NO_SPACE') await freeDataSpace(ctx)
  const progressed = (u.download?.offset ?? 0) > offsetBefore
  const attempts = progressed ? 0 : (u.attempts ?? 0) + 1
  if (TRANSIENT.has(reason.code) && attempts < (ctx.config.download?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)) {
    await journal.change((s) => {
      if (s.update) s.update.attempts = attempts
    })
    ctx.log('warn', 'update paused by a transient error', { ...reason, attempts, progressed })
    return 'retry-later'
  }
  await journal.step('failed', { reason })
  failpoint('failed')
  await reportTerminal(ctx)
  await rm(ctx.stagingDir, { recursive: true, force: true }).catch(() => undefined)
  return 'failed'
}

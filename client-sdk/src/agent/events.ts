/**
 * State reports of one update. Ids derive from the update id and the state, so
 * an agent that restarts and reports a state again sends the same id and the
 * server counts it once. Reporting never stops an update: a report that cannot
 * even be queued (data folder full) is logged.
 */
import type { Reason } from '../errors.js'
import type { UpdateRecord, UpdateStep } from '../journal/journal.js'
import type { DeviceEvent } from '../net/device-api.js'
import { stableId } from '../report/ids.js'
import type { CheckResult } from '../health/checks.js'
import type { UpdateContext } from './context.js'

export async function emit(ctx: UpdateContext, u: Pick<UpdateRecord, 'id' | 'rolloutId' | 'release'> & Partial<Pick<UpdateRecord, 'mode'>>, state: DeviceEvent['state'], reason?: Reason): Promise<void> {
  try {
    await ctx.reporter.report({
      kind: 'event',
      body: {
        id: stableId(u.id, state),
        rolloutId: u.rolloutId,
        release: { name: u.release.name, version: u.release.version },
        state,
        ...(u.mode ? { mode: u.mode } : {}),
        ...(reason ? { reason } : {}),
        at: new Date().toISOString(),
      },
    })
  } catch (e) {
    ctx.log('error', 'could not queue a report', { state, message: (e as Error).message })
  }
  ctx.log(state === 'failed' || state === 'rolled-back' ? 'warn' : 'info', `update ${state}`, {
    release: `${u.release.name}@${u.release.version}`,
    ...(reason ? { reason } : {}),
  })
}

/** A `downloading` event with how far it got (ids by offset: each one counts once). */
export async function emitProgress(ctx: UpdateContext, u: UpdateRecord, bytes: number, total: number): Promise<void> {
  try {
    await ctx.reporter.report({
      kind: 'event',
      body: {
        id: stableId(u.id, 'downloading', bytes),
        rolloutId: u.rolloutId,
        release: { name: u.release.name, version: u.release.version },
        state: 'downloading',
        mode: u.mode,
        progress: { bytes, total },
        at: new Date().toISOString(),
      },
    })
  } catch (e) {
    ctx.log('warn', 'could not queue a progress report', { message: (e as Error).message })
  }
}

/** A refused offer as a security event (issue 12 §6), once per refusal key. */
export async function emitSecurity(ctx: UpdateContext, key: string, reason: Reason, claimed?: Pick<UpdateRecord, 'rolloutId' | 'release'>): Promise<void> {
  try {
    await ctx.reporter.report({
      kind: 'security',
      body: {
        id: stableId(key, 'security'),
        kind: 'offer-refused',
        reason,
        ...(claimed ? { claimed: { rolloutId: claimed.rolloutId, release: { name: claimed.release.name, version: claimed.release.version } } } : {}),
        at: new Date().toISOString(),
      },
    })
  } catch (e) {
    ctx.log('error', 'could not queue a security report', { message: (e as Error).message })
  }
  ctx.log('warn', 'offer refused (security event)', { ...reason })
}

export async function emitHealth(ctx: UpdateContext, u: UpdateRecord, bootOk: boolean, checks: CheckResult[], metrics: Record<string, number>): Promise<void> {
  try {
    await ctx.reporter.report({
      kind: 'health',
      body: {
        id: stableId(u.id, 'health'),
        rolloutId: u.rolloutId,
        release: { name: u.release.name, version: u.release.version },
        bootOk,
        checks,
        metrics,
        at: new Date().toISOString(),
      },
    })
  } catch (e) {
    ctx.log('error', 'could not queue a health report', { message: (e as Error).message })
  }
}

const TERMINAL_EVENT: Partial<Record<UpdateStep, DeviceEvent['state']>> = { committed: 'succeeded', 'rolled-back': 'rolled-back', failed: 'failed' }

/**
 * Queue the event of a terminal step exactly once per update, however the
 * agent died around it: the step is journaled first, then the event queued,
 * then `reported` journaled. A crash between the last two queues the same id
 * again, which the outbox (or the server) counts once.
 */
export async function reportTerminal(ctx: UpdateContext): Promise<void> {
  const u = ctx.journal.update
  const state = u && TERMINAL_EVENT[u.step]
  if (!u || !state || u.reported) return
  await emit(ctx, u, state, state === 'succeeded' ? undefined : u.reason)
  await ctx.journal.change((s) => {
    if (s.update) s.update.reported = true
  })
}

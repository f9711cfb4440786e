/**
 * One poll: ask the server, verify an offer before anything is downloaded, and
 * record an accepted assignment (with its counter, which from then on refuses
 * anything older) as a new update in the journal. An offer that fails
 * verification is reported `failed` once (per ETag and code) and ignored; the
 * device keeps running what it runs. A replayed assignment (or a refusal naming
 * the rollout the device already finished) is a security event instead.
 */
import { parseCanonical } from '../../../signing/canonical-json.js'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { reasonOf } from '../errors.js'
import { TERMINAL_STEPS, type UpdateRecord } from '../journal/journal.js'
import type { Offer } from '../net/device-api.js'
import { checkOffer } from '../trust/check-offer.js'
import { loadTrustedRoot } from '../trust/root-chain.js'
import type { UpdateContext } from './context.js'
import { emit, emitSecurity } from './events.js'

export interface PollOutcome {
  kind: 'none' | 'not-modified' | 'accepted' | 'known' | 'rejected'
  pollIntervalSeconds?: number
}

export async function pollOnce(ctx: UpdateContext, deviceId: string): Promise<PollOutcome> {
  const { journal } = ctx
  const res = await ctx.api.poll(journal.state.pollEtag)
  if (res.kind !== 'offer') {
    if (res.kind === 'none' && journal.state.pollEtag)
      await journal.change((s) => {
        delete s.pollEtag
      })
    return { kind: res.kind, ...(res.pollIntervalSeconds ? { pollIntervalSeconds: res.pollIntervalSeconds } : {}) }
  }
  const offer = res.offer
  if (ctx.config.download?.deltas === false) {
    delete offer.delta
    delete offer.patch
  }
  const interval = offer.pollIntervalSeconds ? { pollIntervalSeconds: offer.pollIntervalSeconds } : {}
  try {
    const trust = await loadTrustedRoot(
      { pinnedFile: ctx.config.trustedRootFile, rootsDir: join(ctx.config.dataDir, 'roots'), verify: { expiryGraceSeconds: ctx.config.expiryGraceSeconds ?? 0 } },
      ctx.api,
    )
    const s = journal.state
    const checked = checkOffer(trust, offer, {
      deviceId,
      hardware: ctx.config.hardware,
      ...(s.lastCounter !== undefined ? { lastCounter: s.lastCounter } : {}),
      installed: (kind, name) =>
        kind === 'model' ? (s.models[name] ?? { securityVersion: 0 }) : { securityVersion: s.securityVersion, ...(s.os ? { sha256: s.os.sha256 } : {}) },
    })
    if (checked.deltaRefused) ctx.log('warn', 'offered delta not used; installing the full image', { why: checked.deltaRefused })
    if (checked.known) {
      await journal.change((st) => {
        if (offer.etag) st.pollEtag = offer.etag
      })
      return { kind: 'known', ...interval }
    }
    const cur = journal.update
    if (cur && !TERMINAL_STEPS.has(cur.step) && !['accepted', 'downloading', 'written', 'verified'].includes(cur.step))
      return { kind: 'known', ...interval } // a trial is pending or running: finish it before anything new
    const { assignment: a, release, delta } = checked
    const update: UpdateRecord = {
      id: randomUUID(),
      step: 'accepted',
      counter: a.counter,
      rolloutId: a.rolloutId,
      action: offer.action,
      release,
      ...(delta ? { delta, patch: offer.patch } : {}),
      mode: delta ? 'delta' : 'full',
      artifact: offer.artifact,
      at: new Date().toISOString(),
    }
    if (cur && !TERMINAL_STEPS.has(cur.step)) ctx.log('warn', 'a newer assignment replaces an unfinished update', { old: cur.counter, new: a.counter })
    await journal.change((st) => {
      st.lastCounter = a.counter
      if (offer.etag) st.pollEtag = offer.etag
      else delete st.pollEtag
      st.update = update
      delete st.rejected
    })
    ctx.log('info', 'assignment accepted', { release: `${release.name}@${release.version}`, counter: a.counter, mode: update.mode })
    return { kind: 'accepted', ...interval }
  } catch (e) {
    const reason = reasonOf(e)
    if (reason.code === 'NETWORK_ERROR' || reason.code === 'SERVER_ERROR') throw e // try again after a backoff
    const key = `${offer.etag ?? ''}|${reason.code}`
    if (journal.state.rejected !== key) {
      await journal.change((st) => {
        st.rejected = key
        if (offer.etag) st.pollEtag = offer.etag
      })
      const claimed = unverifiedClaims(offer)
      // a replay, or a refusal naming the rollout this device already finished, is not an outcome of
      // that rollout: reported as a security event, so replayed traffic cannot flip finished members to failed
      const done = journal.update && TERMINAL_STEPS.has(journal.update.step) ? journal.update.rolloutId : undefined
      if (reason.code === 'ASSIGNMENT_REPLAY' || (claimed && claimed.rolloutId === done)) await emitSecurity(ctx, key, reason, claimed)
      else if (claimed) await emit(ctx, { id: key, ...claimed }, 'failed', reason)
      else ctx.log('warn', 'offer refused', { ...reason })
    }
    return { kind: 'rejected', ...interval }
  }
}

/**
 * What a refused offer claims to be about, to address the failure report. Read
 * from the unverified documents: only used to tell the server which rollout the
 * refusal belongs to, never to act on.
 */
function unverifiedClaims(o: Offer): Pick<UpdateRecord, 'rolloutId' | 'release'> | undefined {
  try {
    const a = (parseCanonical(o.assignment, 1 << 20) as { signed?: { rolloutId?: unknown; release?: { name?: unknown; version?: unknown } } }).signed
    if (typeof a?.rolloutId !== 'string' || typeof a.release?.name !== 'string' || typeof a.release.version !== 'string') return undefined
    return { rolloutId: a.rolloutId, release: { name: a.release.name, version: a.release.version } as UpdateRecord['release'] }
  } catch {
    return undefined
  }
}

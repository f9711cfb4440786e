/**
 * Model payloads (`kind: model`): no reboot. Download (resumable) into the data
 * folder, then the models store writes, hashes and places it in the slot that
 * is not live, and swaps the `current` symlink atomically; the smoke inference
 * must pass within its latency budget or the previous model is live again.
 * With a delta, the patch is downloaded instead and the streaming applier
 * rebuilds the model from the live one straight into the inactive slot (resumed
 * from its progress record after a restart). When the inactive slot already
 * holds the target (a rollback), it is hashed and switched to (`slot-switch`).
 *
 * Steps: accepted → downloading → written (in the store slot, verified) →
 * verified → marked-try (about to swap) → health-checking (swapped, smoke
 * running) → committed | rolled-back | failed. `activate` is idempotent, and
 * the rollback is only done while `current` still points at the new slot, so
 * a restart anywhere repeats nothing harmful.
 */
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { AgentError, type Reason } from '../errors.js'
import { download } from '../net/downloader.js'
import { downloadOptions } from './download-options.js'
import { slotSink } from '../install/slot-sink.js'
import { ModelStore, runSmokeTest } from '../models/index.js'
import type { SlotName } from '../slots/index.js'
import type { StepOutcome, UpdateContext } from './context.js'
import { emit, emitHealth, reportTerminal } from './events.js'
import { failpoint } from './failpoint.js'
import { checkSlot, fallbackReason, worthChecking } from './slot-switch.js'
import { settleUpdateError } from './update-failure.js'
import { stopPoint } from './stop.js'
import { checkDataSpace } from './data-space.js'
import { installDeltaUpdate } from './delta-step.js'

export function modelStore(ctx: UpdateContext, name: string): ModelStore {
  const m = ctx.config.models
  if (!m) throw new AgentError('UNSUPPORTED_PAYLOAD', 'a model release arrived but the config has no `models` folder')
  return new ModelStore({ dir: join(m.dir, name), ...(m.fileName ? { fileName: m.fileName } : {}) })
}

export async function runModelUpdate(ctx: UpdateContext): Promise<StepOutcome> {
  const offsetBefore = ctx.journal.update?.download?.offset ?? 0
  try {
    return await advance(ctx)
  } catch (e) {
    return settleUpdateError(ctx, e, offsetBefore)
  }
}

async function advance(ctx: UpdateContext): Promise<StepOutcome> {
  const { journal } = ctx
  const store = modelStore(ctx, journal.update!.release.name)
  const staged = () => join(ctx.stagingDir, `model-${journal.update!.release.sha256}.bin`)
  if (journal.update?.step === 'accepted') {
    const u = journal.update
    const st = await store.status()
    const target = await store.inactive()
    const check = worthChecking(u, st.slots[target]?.sha256) ? await checkSlot(ctx, u, target, store.modelPath(target)) : undefined
    if (check?.matched) {
      // the other model slot holds the signed model (hashed just now): switch to it
      await journal.step('verified', { targetSlot: target, ...(st.current ? { fromSlot: st.current } : {}), mode: 'slot-switch', slotCheck: check })
      failpoint('slot-checked')
    } else {
      if (u.mode === 'delta') await store.prepare(target) // the applier writes into the slot itself
      await journal.step('downloading', { targetSlot: target, ...(st.current ? { fromSlot: st.current } : {}), download: { offset: 0 }, ...(check ? { slotCheck: check } : {}) })
      failpoint('downloading')
    }
  }
  if (journal.update?.step === 'downloading') {
    const u = journal.update
    await emit(ctx, u, 'downloading', fallbackReason(u))
    const target = u.targetSlot as SlotName
    const expect = { sha256: u.release.sha256, length: u.release.length, name: u.release.name, version: u.release.version }
    if (u.mode === 'delta' && u.delta && u.patch && u.fromSlot) {
      // from the live model into the inactive slot, with the same streaming applier (and memory bound) as OS images;
      // a live model that is not the delta's source fails with DELTA_SOURCE_MISMATCH before anything is swapped
      await installDeltaUpdate(ctx, u, { delta: u.delta, patchUrl: u.patch.url, activePath: store.modelPath(u.fromSlot as SlotName), targetPath: store.partialPath(target) })
      // the applier checked every op and the whole image; the store hashes once more as it places the file
      await store.adopt(target, expect).catch((e: unknown) => Promise.reject(slotNoSpace(e)))
    } else {
      if (!u.download?.offset) await checkDataSpace(ctx, u.release.length) // staged in the data folder first
      const sink = slotSink(staged(), { fresh: !u.download?.offset })
      try {
        // the same settings as OS images, retries included (they were missing here)
        await download({
          ...downloadOptions(ctx),
          url: ctx.api.url(u.artifact.url),
          expected: { sha256: u.release.sha256, length: u.release.length },
          sink,
          sinkNoSpaceCode: 'DATA_NO_SPACE',
        })
        await sink.finish(u.release.length)
      } finally {
        await sink.close()
      }
      await emit(ctx, u, 'installing')
      // the store re-hashes while it writes the slot and refuses anything but the signed sha256
      await store.install(target, staged(), expect).catch((e: unknown) => Promise.reject(slotNoSpace(e)))
    }
    await journal.step('written')
    await rm(ctx.stagingDir, { recursive: true, force: true })
    failpoint('written')
  }
  stopPoint(ctx)
  if (journal.update?.step === 'written') await journal.step('verified')
  if (journal.update?.step === 'verified') {
    if (journal.update.mode === 'slot-switch') await emit(ctx, journal.update, 'installing')
    await journal.step('marked-try')
  }
  if (journal.update?.step === 'marked-try') {
    await store.activate(journal.update.targetSlot as SlotName)
    failpoint('activated')
    await journal.step('health-checking')
  }
  if (journal.update?.step === 'health-checking') {
    const u = journal.update
    await emit(ctx, u, 'health-checking')
    const smoke = ctx.config.models?.smoke
    if (smoke) {
      const r = await runSmokeTest({
        command: smoke.argv,
        timeoutMs: (smoke.timeoutSeconds ?? 300) * 1000,
        ...(smoke.latencyBudgetMs !== undefined ? { latencyBudgetMs: smoke.latencyBudgetMs } : {}),
        env: { SLIPWAY_MODEL_PATH: store.currentPath() },
      })
      await emitHealth(ctx, u, true, [{ name: 'smoke', ok: r.ok, ...(r.ok ? {} : { output: r.outputTail.slice(-2000) }) }], { smoke_latency_ms: Math.round(r.durationMs) })
      if (!r.ok) return rollBack(ctx, { code: 'HEALTH_CHECK_FAILED', message: `smoke failed (${r.failure}) after ${Math.round(r.durationMs)} ms: ${r.outputTail.slice(-500)}` })
    }
    await journal.change((s) => {
      const r = u.release
      s.models[r.name] = { name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion }
      if (s.update) Object.assign(s.update, { step: 'committed', at: new Date().toISOString() })
    })
    await reportTerminal(ctx)
    return 'committed'
  }
  return 'idle'
}

async function rollBack(ctx: UpdateContext, reason: Reason): Promise<StepOutcome> {
  const u = ctx.journal.update!
  await ctx.journal.step('health-checking', { reason })
  const store = modelStore(ctx, u.release.name)
  const st = await store.status()
  // only while the new slot is live: a repeat after a crash must not swap back again
  if (st.current === u.targetSlot) {
    if (!st.previous) {
      // the first model of this name: nothing to go back to; it stays, reported as failed
      await ctx.journal.step('failed', { reason: { code: reason.code, message: `${reason.message} (no previous model to return to)` } })
      await reportTerminal(ctx)
      return 'failed'
    }
    await store.rollback()
  }
  await ctx.journal.step('rolled-back', { reason })
  await reportTerminal(ctx)
  return 'rolled-back'
}

/** ENOSPC in the models folder is the model slot's, not the data folder's. */
function slotNoSpace(e: unknown): unknown {
  const errno = (e as NodeJS.ErrnoException).code
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return new AgentError('SLOT_NO_SPACE', `no space left in the models folder (${errno})`, { errno }, { cause: e })
  return e
}

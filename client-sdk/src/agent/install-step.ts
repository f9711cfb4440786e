/**
 * From an accepted assignment to a verified slot marked to try (steps
 * accepted → downloading → written → verified → marked-try). Only the inactive
 * slot is ever written and the active slot is only read, so a failure here
 * leaves the device exactly as it was: `failed` is reported with the reason and
 * the bootloader still boots the active slot. Transient errors (network, 5xx)
 * keep the step for a later tick, up to `download.maxAttempts` ticks. When the
 * inactive slot already holds the target (a fleet rollback, a re-assignment of
 * the previous release), it is hashed and switched to without a download
 * (accepted → verified, mode `slot-switch`; see slot-switch.ts).
 */
import { AgentError } from '../errors.js'
import { installFull } from '../install/full-image.js'
import { verifySlot } from '../install/verify-slot.js'
import { otherSlot, type SlotName } from '../slots/index.js'
import type { UpdateContext, StepOutcome } from './context.js'
import { downloadOptions } from './download-options.js'
import { installDeltaUpdate } from './delta-step.js'
import { emit } from './events.js'
import { settleUpdateError } from './update-failure.js'
import { stopPoint } from './stop.js'
import { checkDataSpace } from './data-space.js'
import { failpoint } from './failpoint.js'
import { checkSlot, fallbackReason, worthChecking } from './slot-switch.js'
import { installedOf } from '../journal/journal.js'

export { DEFAULT_MAX_ATTEMPTS } from './update-failure.js'

export async function runInstall(ctx: UpdateContext): Promise<StepOutcome> {
  const offsetBefore = ctx.journal.update?.download?.offset ?? 0
  try {
    await install(ctx)
    return 'installed'
  } catch (e) {
    return settleUpdateError(ctx, e, offsetBefore)
  }
}

async function install(ctx: UpdateContext): Promise<void> {
  const { journal, slots } = ctx
  let justVerified = false
  if (journal.update?.step === 'accepted') {
    // a trial still pending from an abandoned update must never point at the slot we overwrite
    if ((await slots.status()).trying !== undefined) await slots.rollback()
    const u = journal.update
    const target = await slots.inactive()
    const from = otherSlot(target)
    const check = worthChecking(u, journal.state.slots?.[target]?.sha256) ? await checkSlot(ctx, u, target, slots.slotPath(target)) : undefined
    if (check?.matched) {
      // the slot already holds the signed image (hashed just now): nothing to download or write
      await journal.step('verified', { targetSlot: target, fromSlot: from, mode: 'slot-switch', slotCheck: check })
      failpoint('slot-checked')
    } else {
      await journal.change((s) => {
        const slotsHeld = (s.slots ??= {})
        delete slotsHeld[target] // opened for writing from here on: it claims nothing until verified
        if (s.os && !slotsHeld[from]) slotsHeld[from] = s.os
        Object.assign(s.update!, { step: 'downloading', targetSlot: target, fromSlot: from, download: { offset: 0 }, ...(check ? { slotCheck: check } : {}), at: new Date().toISOString() })
      })
      failpoint('downloading')
    }
  }
  if (journal.update?.step === 'downloading') {
    const u = journal.update
    await emit(ctx, u, 'downloading', fallbackReason(u))
    const target = u.targetSlot as SlotName
    if (u.mode === 'delta' && u.delta && u.patch) {
      if (!u.download?.offset) await checkDataSpace(ctx, u.delta.patchLength) // the patch is staged in the data folder
      await installDeltaUpdate(ctx, u, { delta: u.delta, patchUrl: u.patch.url, activePath: slots.slotPath(u.fromSlot as SlotName), targetPath: slots.slotPath(target) })
    } else {
      const image = { sha256: u.release.sha256, length: u.release.length }
      await installFull({ ...downloadOptions(ctx), url: ctx.api.url(u.artifact.url), image, slotPath: slots.slotPath(target) })
    }
    await journal.step('written')
    failpoint('written')
    stopPoint(ctx)
    justVerified = true // the streaming hash (full) or the applier (delta) checked the image against the CI-signed sha256
  }
  if (journal.update?.step === 'written') {
    const u = journal.update
    await emit(ctx, u, 'installing')
    // after a restart the streaming hash is gone: read the slot back and check it
    if (!justVerified) await verifySlot(slots.slotPath(u.targetSlot as SlotName), { sha256: u.release.sha256, length: u.release.length })
    await journal.change((s) => {
      ;(s.slots ??= {})[u.targetSlot as SlotName] = installedOf(u.release)
      Object.assign(s.update!, { step: 'verified', at: new Date().toISOString() })
    })
    failpoint('verified')
  }
  if (journal.update?.step === 'verified') {
    stopPoint(ctx) // never mark a trial (and reboot) after SIGTERM
    const u = journal.update
    if (u.mode === 'slot-switch') await emit(ctx, u, 'installing')
    await slots.markTry(u.targetSlot as SlotName)
    failpoint('marked-try-unjournaled')
    await journal.step('marked-try')
    failpoint('marked-try')
  }
  if (journal.update?.step !== 'marked-try') throw new AgentError('JOURNAL_CORRUPT', `install ended at step ${journal.update?.step}`)
}

/**
 * What the first mutation run of install-step.ts and boot-step.ts (issue 18) found
 * unchecked by install-boot-steps.test.ts: bootloader states off the main path, the
 * reason journaled before a rollback, the reboot failure's message, the download record
 * a new download starts from, the delta path taken only in delta mode, and the streaming
 * hash trusted without a read-back in the run that wrote the slot.
 */
import t from 'tap'
import { runInstall } from '../../../client-sdk/src/agent/install-step.js'
import { reboot, runBootPhase } from '../../../client-sdk/src/agent/boot-step.js'
import type { SlotAdapter, SlotName } from '../../../client-sdk/src/slots/index.js'
import { device, imageB, relA, relB } from './steps-fixtures.js'

t.test('boot phase: no update while a trial runs is nothing to do', async (t) => {
  const d = await device(t, { slots: { trying: 'b', booted: 'b' } })
  t.equal(await runBootPhase(d.ctx), 'idle', 'a trial in progress is not a reboot owed')
  t.same(d.logs, [], 'no reboot run')
})

t.test('boot phase: only the target booted and active is a commit', async (t) => {
  // committed b, yet the firmware booted a: the trial did not come up
  const fellBack = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' }, slots: { active: 'b', booted: 'a' } })
  t.equal(await runBootPhase(fellBack.ctx), 'rolled-back')
  t.match(fellBack.journal.update, { step: 'rolled-back', reason: { code: 'BOOT_FAILED', message: 'the trial boot of slot b did not come up; the bootloader fell back to slot a' } })

  // on b and b active, but another trial (of a) pending: neither a commit nor a rollback of this update
  const other = await device(t, { update: { step: 'health-checking', targetSlot: 'b', fromSlot: 'a' }, slots: { active: 'b', booted: 'b', trying: 'a' } })
  t.equal(await runBootPhase(other.ctx), 'rolled-back')
  t.match(other.journal.update, { step: 'rolled-back', reason: { code: 'BOOT_FAILED', message: 'the trial boot of slot b did not come up; the bootloader fell back to slot b' } })
  t.same(other.states(), ['rolled-back'])

  // booted b, a active, a trial of a pending: not the "rolled back by the agent" row either
  const odd = await device(t, { update: { step: 'health-checking', targetSlot: 'b', fromSlot: 'a' }, slots: { active: 'a', booted: 'b', trying: 'a' } })
  t.equal(await runBootPhase(odd.ctx), 'rolled-back', 'no reboot issued')
  t.match(odd.journal.update, { reason: { code: 'BOOT_FAILED' } })
})

t.test('a failed health check: the reason is journaled before the rollback', async (t) => {
  const d = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB, slots: { trying: 'b', booted: 'b', active: 'a' }, config: { health: { units: ['x.service'], systemctl: 'false', attempts: 1 } } })
  const seen: Array<{ step?: string; reason?: unknown; trying?: SlotName }> = []
  const change = d.journal.change.bind(d.journal)
  d.journal.change = async (fn) => {
    await change(fn)
    seen.push({ step: d.journal.update?.step, reason: d.journal.update?.reason, trying: (await d.slotState()).trying })
  }
  t.equal(await runBootPhase(d.ctx), 'reboot-issued')
  const reason = { code: 'HEALTH_CHECK_FAILED', message: 'unit:x.service failed' }
  t.same(seen.slice(0, 2), [
    { step: 'health-checking', reason: undefined, trying: 'b' },
    { step: 'health-checking', reason, trying: 'b' },
  ], 'the reason is on disk while the trial is still set: a restart after the rollback still reports why')
  t.match(seen.at(-1), { step: 'rolled-back', reason, trying: undefined })
})

t.test('a failed reboot command: its argv and the tail of its output', async (t) => {
  const out = `${'z'.repeat(400)}TAIL`
  const d = await device(t, { config: { rebootCommand: ['sh', '-c', `printf ${out}; exit 1`] } })
  t.equal(await reboot(d.ctx), 'retry-later')
  const fields = d.logs.at(-1)?.fields as { code: string; message: string }
  t.equal(fields.code, 'REBOOT_FAILED')
  t.equal(fields.message, `sh -c printf ${out}; exit 1 failed: ${out.slice(-300)}`)
})

t.test('a new download starts from offset 0 in the journal', async (t) => {
  const d = await device(t, { update: {} })
  d.answer.status = 503
  t.equal(await runInstall(d.ctx), 'retry-later')
  t.same(d.journal.update?.download, { offset: 0 }, 'the download record a resume reads')
})

t.test('the delta path is taken in delta mode only', async (t) => {
  const delta = { sourceSha256: relA.sha256, targetSha256: relB.sha256, patchSha256: 'd'.repeat(64), patchLength: 500, format: 'slipway-delta-1' }
  const d = await device(t, { update: { mode: 'full', delta, patch: { url: '/v1/blobs/patch', length: 500 } } })
  t.equal(await runInstall(d.ctx), 'installed')
  t.same(d.sent.map((s) => s.url), [`/v1/blobs/${relB.sha256}`], 'a full install fetches the artifact, whatever else the record holds')
})

t.test('the run that wrote the slot trusts its streaming hash: no read-back', async (t) => {
  const d = await device(t, { update: {} })
  const slots = d.ctx.slots
  const paths: SlotName[] = []
  // a slot path asked for a second time points nowhere: only a read-back would ask again
  const once: SlotAdapter = Object.assign(Object.create(slots) as SlotAdapter, {
    slotPath: (s: SlotName) => (paths.push(s), paths.length > 1 ? '/nonexistent/slot' : slots.slotPath(s)),
  })
  t.equal(await runInstall({ ...d.ctx, slots: once }), 'installed')
  t.same(paths, ['b'], 'the slot path was used once, for writing')
  t.same(await d.slot('b'), imageB)
})

/**
 * The install and boot steps driven in-process (issue 18: the agent area's mutants of
 * install-step.ts and boot-step.ts run against this file, in a few seconds): a real
 * journal and file-backed slots in a temp folder, an HTTP client that serves blobs from
 * memory (no server), a reporter that records what was queued. Each branch of the two
 * steps' tables is put in place by hand: the journal step and the bootloader state a
 * power cut or a reboot leaves, then one call of the step.
 *
 * The reboot is the one child process: `true` (or `false`, a failed reboot command).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { runInstall } from '../../../client-sdk/src/agent/install-step.js'
import { bootPhasePending, reboot, runBootPhase } from '../../../client-sdk/src/agent/boot-step.js'
import { installedOf } from '../../../client-sdk/src/journal/journal.js'
import { stableId } from '../../../client-sdk/src/report/ids.js'
import { bootFileSlots } from '../../../client-sdk/src/slots/index.js'
import { device, imageB, relA, relB } from './steps-fixtures.js'

t.test('accepted: a full download into the inactive slot, verified, marked to try', async (t) => {
  const d = await device(t, { update: {} })
  t.equal(await runInstall(d.ctx), 'installed')
  t.same(d.distinctSteps(), ['downloading', 'written', 'verified', 'marked-try'], 'each step journaled in order')
  t.same(await d.slot('b'), imageB, 'slot b holds the image')
  t.same(await d.slotState(), { version: 1, active: 'a', trying: 'b', booted: 'a' }, 'b is the pending trial; a stays active')
  t.match(d.journal.update, { step: 'marked-try', targetSlot: 'b', fromSlot: 'a', mode: 'full', download: { offset: imageB.length } })
  t.notOk('slotCheck' in d.journal.update!, 'nothing claimed the target: no slot was checked')
  t.same(d.journal.state.slots, { a: installedOf(relA), b: installedOf(relB) }, 'slot b now claims the release it was verified against')
  t.same(d.sent.map((s) => s.url), [`/v1/blobs/${relB.sha256}`], 'one download of the artifact')
  t.equal(d.sent[0]!.headers.authorization, 'Bearer sld_test', 'with the device credential')
  t.same(d.states(), ['downloading', 'installing'])
  t.same(d.events()[0], { id: stableId('upd-1', 'downloading'), rolloutId: 'ro-1', release: { name: 'edge-os', version: '2.0.0' }, state: 'downloading', mode: 'full', at: d.events()[0].at }, 'no reason: nothing fell back')
})

t.test('accepted: slot claims are dropped for the slot being written and kept for the one left', async (t) => {
  const noClaims = await device(t, { update: {}, state: (s) => void delete s.slots })
  t.equal(await runInstall(noClaims.ctx), 'installed')
  t.same(noClaims.journal.state.slots, { a: installedOf(relA), b: installedOf(relB) }, 'the slot left gets the committed OS as its claim')

  const other = { name: 'edge-os', version: '0.5.0', sha256: 'c'.repeat(64), securityVersion: 1 }
  const kept = await device(t, { update: {}, state: (s) => (s.slots = { a: other, b: other }) })
  kept.answer.status = 404
  t.equal(await runInstall(kept.ctx), 'failed')
  t.same(kept.journal.state.slots, { a: other }, "b's claim went when it was opened for writing; a's own claim is kept")

  const noOs = await device(t, { update: {}, state: (s) => (delete s.os, delete s.slots) })
  noOs.answer.status = 404
  await runInstall(noOs.ctx)
  t.same(noOs.journal.state.slots, {}, 'no committed OS: nothing to claim for slot a')
})

t.test('accepted: a trial left pending by an abandoned update is cancelled first', async (t) => {
  const d = await device(t, { update: {}, slots: { trying: 'b' } })
  d.answer.status = 404
  t.equal(await runInstall(d.ctx), 'failed')
  t.same(await d.slotState(), { version: 1, active: 'a', booted: 'a' }, 'no trial points at the half-written slot')
  t.match(d.journal.update, { step: 'failed', reason: { code: 'SERVER_REJECTED' } })
  t.same(d.states(), ['downloading', 'failed'])
  t.equal(await d.stagingLeft(), -1, 'the staging folder is cleared')
})

t.test('slot-switch: the inactive slot already holds the target, nothing is downloaded', async (t) => {
  const d = await device(t, { update: {}, slotB: imageB, state: (s) => (s.slots = { a: installedOf(relA), b: installedOf(relB) }) })
  t.equal(await runInstall(d.ctx), 'installed')
  t.same(d.sent, [], 'no request')
  t.same(d.distinctSteps(), ['verified', 'marked-try'], 'accepted → verified at once')
  t.match(d.journal.update, { step: 'marked-try', targetSlot: 'b', fromSlot: 'a', mode: 'slot-switch', slotCheck: { slot: 'b', sha256: relB.sha256, matched: true } })
  t.same(d.states(), ['installing'], 'installing is reported once, when the trial is marked')
  t.equal(d.events()[0].mode, 'slot-switch')
  t.match(await d.slotState(), { active: 'a', trying: 'b' })

  const rollback = await device(t, { update: { action: 'rollback' }, slotB: imageB, state: (s) => (s.slots = { a: installedOf(relA) }) })
  t.equal(await runInstall(rollback.ctx), 'installed')
  t.same(rollback.sent, [], 'a fleet rollback with no claim on the slot is worth one read')
  t.equal(rollback.journal.update?.mode, 'slot-switch')
})

t.test('slot-switch: a claim the slot does not hash to falls back to a download, and says why', async (t) => {
  const stale = Buffer.from(imageB)
  stale[100] = 9
  const d = await device(t, { update: {}, slotB: stale, state: (s) => (s.slots = { a: installedOf(relA), b: installedOf(relB) }) })
  t.equal(await runInstall(d.ctx), 'installed')
  t.same(d.sent.map((s) => s.url), [`/v1/blobs/${relB.sha256}`], 'downloaded')
  t.match(d.journal.update, { mode: 'full', slotCheck: { slot: 'b', sha256: relB.sha256, matched: false } })
  t.same(d.events()[0].reason, { code: 'SLOT_CLAIM_MISMATCH', message: `slot b was expected to hold ${relB.sha256} but hashes differently: downloading instead` })
  t.same(await d.slot('b'), imageB)
})

t.test('written, after a restart: the slot is read back before it is trusted', async (t) => {
  const at = { step: 'written' as const, targetSlot: 'b', fromSlot: 'a', download: { offset: imageB.length } }
  const good = await device(t, { update: at, slotB: imageB })
  t.equal(await runInstall(good.ctx), 'installed')
  t.same(good.sent, [], 'nothing downloaded again')
  t.same(good.distinctSteps(), ['verified', 'marked-try'])
  t.same(good.states(), ['installing'])
  t.same(good.journal.state.slots?.b, installedOf(relB))
  t.match(await good.slotState(), { trying: 'b' })

  const changed = Buffer.from(imageB)
  changed[60_000] = changed[60_000]! ^ 1
  const bad = await device(t, { update: at, slotB: changed })
  t.equal(await runInstall(bad.ctx), 'failed')
  t.match(bad.journal.update, { step: 'failed', reason: { code: 'PAYLOAD_HASH_MISMATCH' } })
  t.same(await bad.slotState(), { version: 1, active: 'a', booted: 'a' }, 'never marked to try')
  t.equal(bad.journal.state.slots?.b, undefined, 'and never claimed')
  t.same(bad.states(), ['installing', 'failed'])
  t.match(bad.events()[1], { state: 'failed', reason: { code: 'PAYLOAD_HASH_MISMATCH' } })

  const short = await device(t, { update: at, slotB: imageB.subarray(0, 1000) })
  t.equal(await runInstall(short.ctx), 'failed')
  t.match(short.journal.update, { step: 'failed', reason: { code: 'SLOT_WRITE_FAILED', message: `slot ${join(short.slotsDir, 'slot-b.img')} holds 1000 bytes, the image has ${imageB.length}` } })
})

t.test('verified: the trial is marked, and installing reported only for a slot-switch', async (t) => {
  const full = await device(t, { update: { step: 'verified', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB })
  t.equal(await runInstall(full.ctx), 'installed')
  t.same(full.distinctSteps(), ['marked-try'])
  t.same(full.states(), [], 'a full install reported installing when it was written')
  t.match(await full.slotState(), { active: 'a', trying: 'b' })

  const sw = await device(t, { update: { step: 'verified', targetSlot: 'b', fromSlot: 'a', mode: 'slot-switch' }, slotB: imageB })
  t.equal(await runInstall(sw.ctx), 'installed')
  t.same(sw.states(), ['installing'])
})

t.test('SIGTERM: no trial is marked after a stop, and the update resumes where it stopped', async (t) => {
  const d = await device(t, { update: { step: 'verified', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB })
  d.stop.abort()
  t.equal(await runInstall(d.ctx), 'retry-later')
  t.equal(d.journal.update?.step, 'verified', 'still verified')
  t.same(await d.slotState(), { version: 1, active: 'a', booted: 'a' }, 'no trial marked')

  const w = await device(t, { update: {} })
  w.ctx.progress = (offset, total) => void (offset === total && w.stop.abort())
  t.equal(await runInstall(w.ctx), 'retry-later', 'stopped at the safe point after the slot is written')
  t.equal(w.journal.update?.step, 'written')
  t.same(w.states(), ['downloading'])
  t.notOk((await w.slotState()).trying)
  const resumed = { ...w.ctx, stop: new AbortController().signal }
  t.equal(await runInstall(resumed), 'installed', 'the next start reads the slot back and goes on')
  t.same(w.distinctSteps(), ['downloading', 'written', 'verified', 'marked-try'])
  t.equal(w.sent.length, 1, 'without a second download')
})

t.test('errors: transient ones keep the step, the rest fail the update', async (t) => {
  const busy = await device(t, { update: {} })
  busy.answer.status = 503
  t.equal(await runInstall(busy.ctx), 'retry-later')
  t.match(busy.journal.update, { step: 'downloading', attempts: 1 })
  t.equal(busy.journal.update?.reason, undefined)
  busy.answer.status = undefined
  t.equal(await runInstall(busy.ctx), 'installed', 'the next tick goes on from downloading')

  const gone = await device(t, { update: {} })
  gone.answer.status = 404
  t.equal(await runInstall(gone.ctx), 'failed')
  t.match(gone.journal.update, { step: 'failed', reason: { code: 'SERVER_REJECTED' } })
  t.match(gone.events().at(-1), { state: 'failed', reason: { code: 'SERVER_REJECTED' } })

  const lost = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' } })
  t.equal(await runInstall(lost.ctx), 'failed', 'a step install does not know')
  t.match(lost.journal.update, { step: 'failed', reason: { code: 'JOURNAL_CORRUPT', message: 'install ended at step rebooting' } })

  const none = await device(t)
  await t.rejects(runInstall(none.ctx), { code: 'JOURNAL_CORRUPT', message: 'install ended at step undefined' }, 'no update at all')
})

t.test('delta: the patch is fetched, after a check that it fits in the data folder', async (t) => {
  const delta = { sourceSha256: relA.sha256, targetSha256: relB.sha256, patchSha256: 'd'.repeat(64), patchLength: 500, format: 'slipway-delta-1' }
  const patch = { url: '/v1/blobs/patch', length: 500 }
  const d = await device(t, { update: { mode: 'delta', delta, patch } })
  t.equal(await runInstall(d.ctx), 'failed')
  t.same(d.sent.map((s) => s.url), ['/v1/blobs/patch'], 'the patch, not the artifact')
  t.match(d.journal.update, { step: 'failed', reason: { code: 'SERVER_REJECTED' } })

  const huge = await device(t, { update: { mode: 'delta', delta: { ...delta, patchLength: 2 ** 52 }, patch } })
  t.equal(await runInstall(huge.ctx), 'failed')
  t.match(huge.journal.update, { step: 'failed', reason: { code: 'DATA_NO_SPACE' } })
  t.same(huge.sent, [], 'refused before any request')

  const resumed = await device(t, { update: { step: 'downloading', targetSlot: 'b', fromSlot: 'a', mode: 'delta', delta: { ...delta, patchLength: 2 ** 52 }, patch, download: { offset: 10 } } })
  await writeFile(join(resumed.stagingDir, `patch-${delta.patchSha256}.bin`), Buffer.alloc(10)) // the 10 bytes staged before the restart
  t.equal(await runInstall(resumed.ctx), 'failed')
  t.same(resumed.sent, [{ url: '/v1/blobs/patch', headers: resumed.sent[0]?.headers }], 'a resumed patch download was checked for room when it started: it goes on')
  t.equal(resumed.sent[0]?.headers.range, 'bytes=10-')
  t.match(resumed.journal.update, { step: 'failed', reason: { code: 'SERVER_REJECTED' } })

  const noPatch = await device(t, { update: { mode: 'delta', delta } })
  t.equal(await runInstall(noPatch.ctx), 'installed', 'a delta without its patch is downloaded whole')
  t.same(noPatch.sent.map((s) => s.url), [`/v1/blobs/${relB.sha256}`])
})

/** The device after a reboot into slot b's trial (the simulated firmware's boot). */
async function bootedTrial(t: Test, o: Parameters<typeof device>[1] = {}) {
  const d = await device(t, { slotB: imageB, slots: { trying: 'b' }, ...o, update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a', ...o.update } })
  t.equal(await bootFileSlots(d.slotsDir), 'b')
  return d
}

t.test('bootPhasePending: the journal or the bootloader says there is boot work', async (t) => {
  const idle = await device(t)
  t.equal(await bootPhasePending(idle.ctx), false, 'no update, booted the active slot')
  const owed = await device(t, { slots: { booted: 'b' } })
  t.equal(await bootPhasePending(owed.ctx), true, 'booted another slot than the active one, no trial: a reboot is owed')
  const pendingTrial = await device(t, { slots: { trying: 'b', booted: 'b' } })
  t.equal(await bootPhasePending(pendingTrial.ctx), false, 'a trial running without an update says nothing on its own')
  for (const step of ['marked-try', 'rebooting', 'health-checking'] as const) {
    const d = await device(t, { update: { step, targetSlot: 'b' } })
    t.equal(await bootPhasePending(d.ctx), true, step)
  }
  for (const step of ['verified', 'committed', 'failed'] as const) {
    const d = await device(t, { update: { step, targetSlot: 'b' } })
    t.equal(await bootPhasePending(d.ctx), false, step)
  }
  const model = await device(t, { update: { step: 'marked-try', release: { ...relB, kind: 'model' } } })
  t.equal(await bootPhasePending(model.ctx), false, 'a model update has no boot phase')
})

t.test('marked-try: rebooting is journaled and reported, then the reboot runs', async (t) => {
  const d = await device(t, { update: { step: 'marked-try', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB, slots: { trying: 'b' } })
  t.equal(await runBootPhase(d.ctx), 'reboot-issued')
  t.same(d.steps, ['rebooting'])
  t.same(d.states(), ['rebooting'])
  t.match(d.logs.at(-1), { level: 'info', msg: 'rebooting', fields: { argv: ['true'] } })
  t.equal(await runBootPhase(d.ctx), 'reboot-issued', 'again after a restart at rebooting')
  t.same(d.steps, ['rebooting'], 'not journaled twice')
  t.same(d.states(), ['rebooting', 'rebooting'], 'the same report again (its id counts once)')
})

t.test('reboot: the configured command first, a failed one is retried later', async (t) => {
  const d = await device(t, { config: { rebootCommand: ['false'] } })
  t.equal(await reboot(d.ctx), 'retry-later')
  t.match(d.logs.at(-1), { level: 'error', msg: 'reboot command failed', fields: { code: 'REBOOT_FAILED', message: /^false failed: / } })
  t.match(d.logs.at(-2), { msg: 'rebooting', fields: { argv: ['false'] } })
  const owed = await device(t, { slots: { booted: 'b' } })
  t.equal(await runBootPhase(owed.ctx), 'reboot-issued', 'no update, a reboot owed: the adapter command')
  t.same(owed.states(), [])
  const quiet = await device(t)
  t.equal(await runBootPhase(quiet.ctx), 'idle')
  t.same(quiet.logs, [], 'nothing to do, nothing run')
})

t.test('the trial boot: health checks pass, commit', async (t) => {
  const d = await bootedTrial(t, { state: (s) => (s.securityVersion = 1) })
  d.ctx.journal.update // the step is rebooting
  t.equal(await runBootPhase(d.ctx), 'committed')
  t.same(await d.slotState(), { version: 1, active: 'b', booted: 'b' }, 'b is active')
  t.same(d.distinctSteps(), ['health-checking', 'committed'])
  t.same(d.journal.state.os, { name: relB.name, version: relB.version, sha256: relB.sha256, securityVersion: 2 }, 'the committed OS')
  t.equal(d.journal.state.securityVersion, 2, 'the anti-rollback floor rises')
  t.match(d.journal.update, { step: 'committed', reported: true })
  t.same(d.states(), ['health-checking', 'succeeded'])
  t.notOk('reason' in d.events()[1], 'success carries no reason')
  t.same(
    d.reports.filter((r) => r.kind === 'health').map((r) => ({ ...r.body, at: undefined })),
    [{ id: stableId('upd-1', 'health'), rolloutId: 'ro-1', release: { name: 'edge-os', version: '2.0.0' }, bootOk: true, checks: [], metrics: {}, at: undefined }],
  )
  t.equal(await d.stagingLeft(), -1, 'staging cleared')
  t.equal(await runBootPhase(d.ctx), 'idle', 'done: nothing more')

  const floor = await bootedTrial(t, { state: (s) => (s.securityVersion = 7) })
  t.equal(await runBootPhase(floor.ctx), 'committed')
  t.equal(floor.journal.state.securityVersion, 7, 'the floor never goes down')
  t.equal(floor.journal.state.os?.securityVersion, 2)

  const again = await bootedTrial(t, { update: { step: 'health-checking', reason: { code: 'X', message: 'old' } } })
  t.equal(await runBootPhase(again.ctx), 'committed')
  t.same(again.distinctSteps(), ['committed'], 'already health-checking: not journaled again')
  t.notOk('reason' in again.journal.update!, 'a stale reason is dropped on commit')
})

t.test('the trial boot: a failed check rolls back with its reason, then reboots', async (t) => {
  const tail = 'y'.repeat(600) + 'END'
  const d = await bootedTrial(t, { config: { health: { commands: [{ name: 'ok', argv: ['true'] }, { name: 'smoke', argv: ['sh', '-c', `echo ${tail}; exit 3`] }], attempts: 1 } } })
  t.equal(await runBootPhase(d.ctx), 'reboot-issued')
  const reason = { code: 'HEALTH_CHECK_FAILED', message: `command:smoke failed: ${tail.slice(-500)}` }
  t.match(d.journal.update, { step: 'rolled-back', reason, reported: true })
  t.same(d.distinctSteps(), ['health-checking', 'rolled-back'])
  t.same(await d.slotState(), { version: 1, active: 'a', booted: 'b' }, 'the trial is cancelled: the next boot is a')
  t.same(d.states(), ['health-checking', 'rolled-back'])
  t.same(d.events()[1].reason, reason)
  t.match(d.reports.find((r) => r.kind === 'health')?.body, { bootOk: true, checks: [{ name: 'command:ok', ok: true }, { name: 'command:smoke', ok: false }] })
  t.equal(await d.stagingLeft(), -1)

  const quiet = await bootedTrial(t, { config: { health: { units: ['x.service'], systemctl: 'false', attempts: 1 } } })
  t.equal(await runBootPhase(quiet.ctx), 'reboot-issued')
  t.same(quiet.journal.update?.reason, { code: 'HEALTH_CHECK_FAILED', message: 'unit:x.service failed' }, 'a check without output: its name alone')
})

t.test('after a restart: where the bootloader is decides', async (t) => {
  // committed by the bootloader, not yet in the journal
  const c = await device(t, { update: { step: 'health-checking', targetSlot: 'b', fromSlot: 'a' }, slots: { active: 'b', booted: 'b' } })
  t.equal(await runBootPhase(c.ctx), 'committed')
  t.same(c.states(), ['succeeded'])
  t.same(c.reports.filter((r) => r.kind === 'health'), [], 'no health check run again')

  // rolled back by the agent, not yet in the journal: the reason it journaled first
  const reason = { code: 'HEALTH_CHECK_FAILED', message: 'smoke failed' }
  const r = await device(t, { update: { step: 'health-checking', targetSlot: 'b', fromSlot: 'a', reason }, slots: { booted: 'b' } })
  t.equal(await runBootPhase(r.ctx), 'reboot-issued')
  t.match(r.journal.update, { step: 'rolled-back', reason })
  t.match(r.events(), [{ state: 'rolled-back', reason }])
  const dflt = await device(t, { update: { step: 'health-checking', targetSlot: 'b', fromSlot: 'a' }, slots: { booted: 'b' } })
  t.equal(await runBootPhase(dflt.ctx), 'reboot-issued')
  t.same(dflt.journal.update?.reason, { code: 'HEALTH_CHECK_FAILED', message: 'rolled back after a failed health check' })

  // the trial boot never came up: the firmware fell back to a
  const f = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' } })
  t.equal(await runBootPhase(f.ctx), 'rolled-back')
  const boot = { code: 'BOOT_FAILED', message: 'the trial boot of slot b did not come up; the bootloader fell back to slot a' }
  t.match(f.journal.update, { step: 'rolled-back', reason: boot, reported: true })
  t.same(f.states(), ['rolled-back'])
  t.same(f.events()[0].reason, boot)
  t.match(f.reports.find((x) => x.kind === 'health')?.body, { bootOk: false, checks: [], metrics: {} })
  t.equal(await f.stagingLeft(), -1)
  t.same(f.logs.filter((l) => l.msg === 'rebooting'), [], 'no reboot: it already runs the old slot')

  // terminal, but a reboot is still owed (rolled back while running the trial)
  const owed = await device(t, { update: { step: 'rolled-back', targetSlot: 'b', reported: true }, slots: { booted: 'b' } })
  t.equal(await runBootPhase(owed.ctx), 'reboot-issued')
  t.same(owed.states(), [], 'reported once already')
  const done = await device(t, { update: { step: 'committed', targetSlot: 'b', reported: true }, slots: { active: 'b', booted: 'b' } })
  t.equal(await runBootPhase(done.ctx), 'idle')
  const model = await device(t, { update: { step: 'marked-try', release: { ...relB, kind: 'model' }, targetSlot: 'b' }, slots: { trying: 'b' } })
  t.equal(await runBootPhase(model.ctx), 'idle', 'a model update is not the boot phase')
})

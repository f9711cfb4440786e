/**
 * Every crash-injection point on the install and boot paths has a name: an unnamed
 * `failpoint('')` could never be targeted by kill-at-every-step, so the step after it
 * would silently lose its SIGKILL coverage. SLIPWAY_AGENT_FAILPOINT=':1' targets the
 * empty name (failpoint.ts reads it once, at load: the steps are imported after it is
 * set), and `process.kill` is replaced so that a hit is recorded instead of killing.
 * Then every path that passes failpoints is run: a full install, a slot-switch, a
 * reboot, a commit, a rollback after a failed health check.
 */
import t from 'tap'
import { device, imageB, relA, relB } from './steps-fixtures.js'

process.env.SLIPWAY_AGENT_FAILPOINT = ':1'
const hits: unknown[] = []
const kill = process.kill.bind(process)
process.kill = ((pid: number, signal?: string | number) => {
  if (pid === process.pid && signal === 'SIGKILL') {
    hits.push(new Error('unnamed failpoint').stack)
    return true
  }
  return kill(pid, signal)
}) as typeof process.kill
t.teardown(() => void (process.kill = kill))
const { runInstall } = await import('../../../client-sdk/src/agent/install-step.js')
const { runBootPhase } = await import('../../../client-sdk/src/agent/boot-step.js')

t.test('the install and boot paths pass no unnamed failpoint', async (t) => {
  const full = await device(t, { update: {} })
  t.equal(await runInstall(full.ctx), 'installed', 'downloading, written, verified, marked-try')
  t.equal(await runBootPhase(full.ctx), 'reboot-issued', 'rebooting')

  const sw = await device(t, { update: {}, slotB: imageB, state: (s) => (s.slots = { a: { name: relA.name, version: relA.version, sha256: relA.sha256, securityVersion: 1 }, b: { name: relB.name, version: relB.version, sha256: relB.sha256, securityVersion: 2 } }) })
  t.equal(await runInstall(sw.ctx), 'installed', 'slot-checked')
  t.equal(sw.journal.update?.mode, 'slot-switch')

  const commit = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB, slots: { trying: 'b', booted: 'b' } })
  t.equal(await runBootPhase(commit.ctx), 'committed', 'health-checking, committed-unjournaled, committed')

  const back = await device(t, { update: { step: 'rebooting', targetSlot: 'b', fromSlot: 'a' }, slotB: imageB, slots: { trying: 'b', booted: 'b' }, config: { health: { units: ['x.service'], systemctl: 'false', attempts: 1 } } })
  t.equal(await runBootPhase(back.ctx), 'reboot-issued', 'rolled-back-unjournaled, rolled-back')

  t.same(hits, [], 'no failpoint without a name was passed')
})

t.test('the empty name is what the environment targets', async (t) => {
  const { failpoint } = await import('../../../client-sdk/src/agent/failpoint.js')
  const before = hits.length
  failpoint('')
  t.equal(hits.length, before + 1, 'an unnamed failpoint would be hit (the check above can fail)')
  hits.length = before
})

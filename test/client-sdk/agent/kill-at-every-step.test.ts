/**
 * Power cut anywhere (issue 6 §5): the bundled agent process is SIGKILLed at
 * every step of a full and of a delta update (before and after each journal
 * write, in the middle of the download and of the delta apply, after the
 * bootloader changed but before the journal did), then the device is restarted
 * until it settles, against the real embedded server (rollout through the
 * management API, a delta the server built). After every kill: a slot marked
 * to try holds exactly the verified image, and the server never lists the new
 * version as installed unless the device's committed slot holds it. At the
 * end: the device runs a verified bootable slot, the journal is terminal, the
 * outbox is empty and the rollout counts every device once, right.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { call } from '../../helpers/api.js'
import { imagePair, pushRelease, waitForDelta, type PushedRelease } from '../../helpers/deltas.js'
import { enrollmentToken } from '../../helpers/fleet.js'
import { startServer, type TestServer } from '../../helpers/server.js'
import type { Release } from '../../../signing/metadata/release.js'
import { buildBundle } from './bundle.js'
import { simDevice } from './device-fixtures.js'
import { processDevice } from './process-device.js'

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const FULL_POINTS = ['downloading', 'checkpoint:1', 'checkpoint:3', 'written', 'verified', 'marked-try-unjournaled', 'marked-try', 'rebooting', 'health-checking', 'committed-unjournaled', 'committed']
const DELTA_POINTS = ['downloading', 'patch-ready', 'apply-checkpoint:1', 'apply-checkpoint:2', 'written', 'verified', 'marked-try-unjournaled', 'marked-try', 'rebooting', 'health-checking', 'committed-unjournaled', 'committed']
const ROLLBACK_POINTS = ['health-checking', 'rolled-back-unjournaled', 'rolled-back']

interface Fleet {
  srv: TestServer
  op: string
  token: string
  root: Buffer
  imageA: Buffer
  imageB: Buffer
  v1: PushedRelease
  rel: { sha256: string }
}

interface Scenario {
  delta: boolean
  healthOk: boolean
}

async function killAt(t: Test, bundle: string, point: string, f: Fleet, s: Scenario) {
  const { imageA, imageB, rel } = f
  const installed = { name: 'rootfs', version: '1.0.0', sha256: f.v1.sha256, length: f.v1.length, securityVersion: 1 } as Release
  const sim = await simDevice(t, { url: f.srv.url, trust: { root: f.root } }, {
    imageA,
    installed,
    enrolled: false,
    config: {
      hardwareId: `kill-${s.delta ? 'delta' : 'full'}-${s.healthOk ? 'ok' : 'bad'}-${point}`,
      download: { retries: 0, retryDelayMs: 10, maxAttempts: 3, checkpointBytes: s.delta ? 1 : 1 << 20, deltas: s.delta },
      health: { attempts: 1, commands: [{ name: 'app', argv: [s.healthOk ? 'true' : 'false'] }] },
    },
  })
  const deviceId = (await sim.agent.enroll(f.token)).deviceId
  sim.agent.close()
  const serverVersion = async () => (await call(f.srv, f.op, 'GET', `/v1/devices/${deviceId}`)).json.installed.map((i: any) => i.version).join()
  const dev = await processDevice(bundle, sim.dir, sim.config, sim.slotsDir)
  const slotBytes = (slot: 'a' | 'b') => readFile(join(sim.slotsDir, `slot-${slot}.img`))

  let killed = 0
  for (let round = 0; round < 12; round++) {
    // armed until it fires once: steps after the reboot happen in a later process
    const r = await dev.round(killed === 0 ? { SLIPWAY_AGENT_FAILPOINT: point } : {})
    if (r.signal === 'SIGKILL') killed++
    else t.equal(r.code, 0, `round ${round} exits cleanly: ${r.stderr.slice(-300)}`)
    // invariant after every stop: a pending or running trial points at a complete, verified image
    if (r.before.trying) t.equal(hash(await slotBytes(r.before.trying)), rel.sha256, `round ${round}: trial slot ${r.before.trying} holds the signed image`)
    const j = await dev.journal()
    const st = await dev.state()
    // the server says 1.1.0 only once the device committed a slot holding it
    if ((await serverVersion()) === '1.1.0') {
      t.equal(j.update?.step, 'committed', `round ${round}: server shows 1.1.0 only after the commit`)
      t.ok((await slotBytes(st.active)).equals(imageB), `round ${round}: and the committed slot holds it`)
    }
    // settled: a clean round (a real agent keeps running after a kill) left a terminal journal on the committed slot
    if (r.signal === null && ['committed', 'rolled-back', 'failed'].includes(j.update?.step) && !st.trying && st.booted === st.active && !r.rebooted) break
  }
  t.equal(killed, 1, `the agent was killed at ${point}`)
  const st = await dev.state()
  const j = await dev.journal()
  t.equal(st.trying, undefined, 'no trial left pending')
  t.equal(st.booted, st.active, 'running the committed slot')
  const expectSlot = s.healthOk ? 'b' : 'a'
  const expectImage = s.healthOk ? imageB : imageA
  t.equal(st.active, expectSlot)
  t.ok((await slotBytes(st.active)).equals(expectImage), 'the active slot holds the verified image')
  t.equal(j.update.step, s.healthOk ? 'committed' : 'rolled-back')
  t.equal(j.os.version, s.healthOk ? '1.1.0' : '1.0.0')
  t.equal(await serverVersion(), s.healthOk ? '1.1.0' : '1.0.0', 'the server agrees on what runs')
  t.equal(j.update.mode, s.delta ? 'delta' : 'full')
  t.same((await readdir(join(sim.config.dataDir, 'outbox'))).filter((n) => n !== 'seq.json'), [], 'every report delivered')
}

t.test('kill at every step', async (t) => {
  const { path: bundle } = await buildBundle(t)
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source: imageA, target: imageB } = imagePair(3 * 1024 * 1024)
  const v1 = await pushRelease(srv, ci, imageA, { name: 'rootfs', version: '1.0.0', hardware: ['rpi4'] })
  const v2 = await pushRelease(srv, ci, imageB, { name: 'rootfs', version: '1.1.0', hardware: ['rpi4'] })
  const asked = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.equal((await waitForDelta(srv, op, asked.json.id, ['ready', 'too-large', 'failed'])).state, 'ready')
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { group: 'kill' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    // the rollbacks below are the point of the test, not a reason to stop the rollout
    gate: { minSample: 1000, maxFailures: 1000 },
    // the devices enroll one by one below, after the rollout exists
    allowEmpty: true,
    start: true,
    reason: 'kill test',
  })
  t.equal(created.status, 201, JSON.stringify(created.json))
  const f: Fleet = { srv, op, token: await enrollmentToken(srv, 'kill'), root: (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw, imageA, imageB, v1, rel: v2 }
  for (const point of FULL_POINTS) await t.test(`full update, killed at ${point}`, (t) => killAt(t, bundle, point, f, { delta: false, healthOk: true }))
  for (const point of DELTA_POINTS) await t.test(`delta update, killed at ${point}`, (t) => killAt(t, bundle, point, f, { delta: true, healthOk: true }))
  for (const point of ROLLBACK_POINTS) await t.test(`failed health check, killed at ${point}`, (t) => killAt(t, bundle, point, f, { delta: false, healthOk: false }))
  const totals = (await call(srv, op, 'GET', `/v1/rollouts/${created.json.rollout.id}`)).json.totals
  t.equal(totals.healthy, FULL_POINTS.length + DELTA_POINTS.length, `rollout: every update that succeeded counted healthy once ${JSON.stringify(totals)}`)
  t.equal(totals.failed, ROLLBACK_POINTS.length, 'rollout: every rollback counted failed once')
})

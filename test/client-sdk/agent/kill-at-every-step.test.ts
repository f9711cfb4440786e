/**
 * Power cut anywhere (issue 6 §5): the agent process is SIGKILLed at every step
 * of a full and of a delta update (before and after each journal write, in
 * the middle of the download and of the delta apply, after the bootloader
 * changed but before the journal did), then the device is restarted until it
 * settles. After every kill: a slot marked to try holds exactly the verified
 * image. At the end: the device runs a verified bootable slot, the journal is
 * terminal, and the server saw `succeeded` only for the slot that really holds
 * the signed image, never a `failed` for an update that succeeded.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { sampleDelta } from '../delta-fixtures.js'
import { buildBundle } from './bundle.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'
import { sha256 } from './http-fixtures.js'
import { processDevice } from './process-device.js'

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const FULL_POINTS = ['downloading', 'checkpoint:1', 'checkpoint:3', 'written', 'verified', 'marked-try-unjournaled', 'marked-try', 'rebooting', 'health-checking', 'committed-unjournaled', 'committed']
const DELTA_POINTS = ['downloading', 'patch-ready', 'apply-checkpoint:1', 'apply-checkpoint:2', 'written', 'verified', 'marked-try-unjournaled', 'marked-try', 'rebooting', 'health-checking', 'committed-unjournaled', 'committed']
const ROLLBACK_POINTS = ['health-checking', 'rolled-back-unjournaled', 'rolled-back']

interface Scenario {
  imageA: Buffer
  imageB: Buffer
  patch?: Buffer
  healthOk: boolean
}

async function killAt(t: Test, bundle: string, point: string, s: Scenario) {
  const api = await fakeApi(t, await trustKit())
  const installed = releaseOf(s.imageA, { version: '1.0.0' })
  const sim = await simDevice(t, api, {
    imageA: s.imageA,
    installed,
    config: {
      download: { retries: 0, retryDelayMs: 10, maxAttempts: 3, checkpointBytes: s.patch ? 1 : 1 << 20 },
      health: { attempts: 1, commands: [{ name: 'app', argv: [s.healthOk ? 'true' : 'false'] }] },
    },
  })
  sim.agent.close()
  const rel = releaseOf(s.imageB, { version: '2.0.0', securityVersion: 2 })
  await offer(api, { image: s.imageB, release: rel, ...(s.patch ? { patch: { bytes: s.patch, sourceSha256: sha256(s.imageA) } } : {}) })
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
    // settled: a clean round (a real agent keeps running after a kill) left a terminal journal on the committed slot
    if (r.signal === null && ['committed', 'rolled-back', 'failed'].includes(j.update?.step) && !st.trying && st.booted === st.active && !r.rebooted) break
  }
  t.equal(killed, 1, `the agent was killed at ${point}`)
  const st = await dev.state()
  const j = await dev.journal()
  t.equal(st.trying, undefined, 'no trial left pending')
  t.equal(st.booted, st.active, 'running the committed slot')
  const expectSlot = s.healthOk ? 'b' : 'a'
  const expectImage = s.healthOk ? s.imageB : s.imageA
  t.equal(st.active, expectSlot)
  t.ok((await slotBytes(st.active)).equals(expectImage), 'the active slot holds the verified image')
  t.equal(j.update.step, s.healthOk ? 'committed' : 'rolled-back')
  t.equal(j.os.version, s.healthOk ? '2.0.0' : '1.0.0')
  const states = api.events.map((e) => e.state)
  if (s.healthOk) {
    t.ok(states.includes('succeeded'), 'succeeded reported')
    t.notOk(states.includes('failed') || states.includes('rolled-back'), `no failure reported: ${states}`)
    const okSeq = Math.max(...api.events.filter((e) => e.state === 'succeeded').map((e) => e.seq))
    t.ok(api.events.every((e) => e.state === 'succeeded' || e.seq < okSeq), 'succeeded is the last word')
  } else {
    t.ok(states.includes('rolled-back'), 'rolled-back reported')
    t.notOk(states.includes('succeeded'), 'never succeeded')
  }
  t.same((await readdir(join(sim.config.dataDir, 'outbox'))).filter((n) => n !== 'seq.json'), [], 'every report delivered')
  t.equal(new Set(api.events.map((e) => e.id)).size, new Set(api.events.map((e) => `${e.state}`)).size, 'one id per state: repeats after restarts reuse the id')
}

t.test('kill at every step', async (t) => {
  const { path: bundle } = await buildBundle(t)
  const imageA = Buffer.alloc(3 * 1024 * 1024 + 77, 0xa1)
  const imageB = Buffer.alloc(3 * 1024 * 1024 + 4099, 0xb2)
  for (let i = 0; i < imageB.length; i += 4096) imageB[i] = i & 0xff
  for (const point of FULL_POINTS) await t.test(`full update, killed at ${point}`, (t) => killAt(t, bundle, point, { imageA, imageB, healthOk: true }))
  const d = await sampleDelta()
  for (const point of DELTA_POINTS) await t.test(`delta update, killed at ${point}`, (t) => killAt(t, bundle, point, { imageA: d.source, imageB: d.target, patch: d.patch, healthOk: true }))
  for (const point of ROLLBACK_POINTS)
    await t.test(`failed health check, killed at ${point}`, (t) => killAt(t, bundle, point, { imageA, imageB, healthOk: false }))
})

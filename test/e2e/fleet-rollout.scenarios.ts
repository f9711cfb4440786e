/**
 * Simulated fleets over real HTTP against a real server, in embedded mode (SQLite,
 * in-process jobs) and in PostgreSQL + Redis mode (BullMQ, two `slipway worker`
 * processes): a healthy release walks 1% → 10% → 50% → 100% and completes; a release
 * failing health on 20% of its canary is rolled back before phase 2, and the
 * rolled-back devices report the previous version; silent devices count as failed;
 * chaotic reporters (every report twice, in reverse order) do not skew the counts; and
 * concurrent evaluations by two server processes make exactly one transition.
 */
import { join } from 'node:path'
import type { Test } from 'tap'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { enroll, enrollmentToken, installedOf, publish, type PublishedRelease } from '../helpers/fleet.js'
import { mapLimit, SimDevice, type Behaviour } from '../helpers/fleet-sim.js'
import { REDIS_URL, scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

/**
 * Devices per scenario: issue 5 asks for at least 1,000. At 2,000 the two files took 180 s
 * and 300 s of CI's 30 minutes; SLIPWAY_SIM_DEVICES=2000 runs the larger fleet.
 */
const FLEET = Number(process.env.SLIPWAY_SIM_DEVICES ?? 1000)

export interface Mode {
  name: string
  /** the server environment of this mode; its services are removed at `t`'s teardown */
  env: (t: Test) => Promise<Record<string, string>>
  workers: number
}

export const embedded: Mode = { name: 'embedded', workers: 0, env: async () => ({}) }
export const scaled: Mode = { name: 'postgres+redis', workers: 2, env: (t) => scaleOutEnv(t) }

interface Fleet {
  srv: TestServer
  op: string
  v1: PublishedRelease
  devices: SimDevice[]
}

async function setup(t: Test, mode: Mode, size: number, behaviour: (i: number) => Behaviour): Promise<Fleet> {
  const env = await mode.env(t)
  // the whole simulated fleet enrolls with one token within seconds: lift the per-token limit
  const srv = await startServer({ ...env, SLIPWAY_ROLLOUT_TICK_SECONDS: '1', SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE: '0' })
  t.teardown(() => srv.close())
  for (let i = 0; i < mode.workers; i++) {
    const w = slipway(['worker'], {
      ...env,
      SLIPWAY_ROLLOUT_TICK_SECONDS: '1',
      LOG_LEVEL: 'warn',
      SLIPWAY_DATA_DIR: join(srv.config.dataDir, `worker-${i}`),
      SLIPWAY_ONLINE_KEY_FILE: join(srv.config.keys.dir, 'online.pem'),
    })
    t.teardown(() => w.child.kill('SIGKILL'))
  }
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const et = await enrollmentToken(srv)
  const t0 = Date.now()
  const devices = await mapLimit(Array.from({ length: size }, (_, i) => i), 32, async (i) => {
    const d = await enroll(srv, et, { installed: [installedOf(v1)], tags: i % 2 ? ['odd'] : [] })
    return new SimDevice(d.deviceId, d, behaviour(i), v1)
  })
  if (process.env.SIM_DEBUG) console.error(`enrolled ${size} in ${Date.now() - t0} ms`)
  return { srv, op, v1, devices }
}

/**
 * Every device polls (and installs when told to), round after round, until `done`. A
 * device told "nothing to do" waits until the rollout changes (its version moves)
 * before polling again, as a real device waits out its poll interval.
 */
async function drive(f: Fleet, id: string, done: (r: any) => boolean, opts: { timeoutMs?: number; decide?: (d: SimDevice) => Behaviour } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 240_000)
  const idleAt = new Map<SimDevice, number>()
  for (;;) {
    const r = await rollout(f, id)
    if (done(r)) return
    if (Date.now() > deadline) throw new Error(`the rollout did not reach the expected state in time: ${JSON.stringify(r.rollout)}`)
    const version = r.rollout.version
    const polling = f.devices.filter((d) => idleAt.get(d) !== version)
    const t0 = Date.now()
    await mapLimit(polling, 48, async (d) => {
      const result = await d.step(f.srv, opts.decide)
      if (result === 'idle') idleAt.set(d, version)
      else idleAt.delete(d)
    })
    if (process.env.SIM_DEBUG) console.error(`round v${version} ${r.rollout.state}/${r.rollout.phase}: ${polling.length} polled in ${Date.now() - t0} ms`)
    await new Promise((res) => setTimeout(res, 200))
  }
}

/**
 * Creates a rollout the way `slipway rollout create` does: a dry run first, then the
 * rollout under the dry run's id, so its cohorts are the ones the plan counted. Cohorts
 * are random per rollout id: 1% of 1,000 devices is 10 on average but 5 or fewer in about
 * one plan in fifteen, and 5 healthy devices can never pass a 35% limit at 90% confidence
 * (the dry run says so in `healthyToPromote`). An operator told that runs the plan again;
 * so does this, until `fits` accepts it.
 */
async function plannedRollout(t: Test, f: Fleet, body: Record<string, unknown>, fits: (dry: any) => boolean) {
  for (let i = 0; i < 20; i++) {
    const dry = await call(f.srv, f.op, 'POST', '/v1/rollouts', { ...body, dryRun: true, start: undefined, reason: undefined })
    t.equal(dry.status, 200, 'dry run')
    if (!fits(dry.json)) continue
    const created = await call(f.srv, f.op, 'POST', '/v1/rollouts', { ...body, id: dry.json.rolloutId })
    t.equal(created.status, 201)
    t.equal(created.json.rollout.id, dry.json.rolloutId, 'created under the dry run’s id')
    return { dry: dry.json, id: created.json.rollout.id as string }
  }
  throw new Error('no dry run in 20 gave a plan whose phases can pass the gate')
}

/** every phase reaches at least the healthy devices its gate needs to promote */
const promotable = (dry: any) => dry.phases.every((p: any) => p.healthyToPromote !== null && p.devices >= p.healthyToPromote)

const rollout = async (f: Fleet, id: string) => (await call(f.srv, f.op, 'GET', `/v1/rollouts/${id}`)).json
const audit = async (f: Fleet, id: string) => (await call(f.srv, f.op, 'GET', `/v1/audit?subject=rollout:${id}&limit=5000`)).json.entries as Array<{ action: string; actor: string; reason: string }>

export function rolloutScenarios(t: Test, mode: Mode): void {
  t.test(`${mode.name}: a healthy release walks 1% → 10% → 50% → 100% and completes`, async (t) => {
    // one device in ten reports chaotically: twice, newest first
    const f = await setup(t, mode, FLEET, (i) => (i % 10 === 3 ? 'chaotic' : 'healthy'))
    const v2 = await publish(f.srv, { version: '1.1.0' })
    const body = {
      release: `rootfs@${v2.version}`,
      phases: [
        { percent: 1, minDevices: 3, soakSeconds: 1 },
        { percent: 10, minDevices: 50, soakSeconds: 1 },
        { percent: 50, minDevices: 300, soakSeconds: 1 },
        { percent: 100, minDevices: 600, soakSeconds: 0 },
      ],
      gate: { maxFailureRate: 0.35, minSample: 3, confidence: 0.9, silentAfterSeconds: 600 },
      reason: 'weekly OS update',
    }
    const { dry, id } = await plannedRollout(t, f, { ...body, start: true }, promotable)
    t.equal(dry.matching, FLEET, 'dry run: every device matches')
    t.equal(dry.phases[3].devices, FLEET)
    t.ok(dry.phases[0].devices < dry.phases[1].devices, 'dry run: phases reach more devices each')
    // a completed rollout keeps reaching the devices that have not polled yet
    await drive(f, id, (r) => r.rollout.state === 'completed' && f.devices.every((d) => d.runs.get('rootfs') === '1.1.0'))
    const r = await rollout(f, id)
    t.equal(r.totals.assigned, FLEET, 'every device was assigned once')
    t.equal(r.totals.healthy, FLEET, 'chaotic reporters counted once each: healthy = devices')
    t.equal(r.totals.failed, 0)
    t.ok(f.devices.every((d) => d.runs.get('rootfs') === '1.1.0'), 'every device runs 1.1.0')
    const actions = (await audit(f, id)).map((e) => e.action)
    t.same(actions, ['rollout.create', 'rollout.start', 'rollout.promote', 'rollout.promote', 'rollout.promote', 'rollout.complete'], 'every phase, exactly one transition per step in the audit log')
  })

  t.test(`${mode.name}: 20% of the canary fails health after reboot → rolled back before phase 2`, async (t) => {
    const f = await setup(t, mode, FLEET, () => 'healthy')
    const v2 = await publish(f.srv, { version: '1.1.0' })
    let assignedSoFar = 0
    // every fifth device to receive 1.1.0 fails its health check after the reboot
    const decide = (): Behaviour => (assignedSoFar++ % 5 === 0 ? 'fail-health' : 'healthy')
    // a canary of 6 or more: every fifth device fails, so at least two fail and the
    // gate's maxFailures (2) is reached inside the canary
    const { id } = await plannedRollout(
      t,
      f,
      {
        release: `rootfs@${v2.version}`,
        phases: [
          { percent: 1, minDevices: 3, soakSeconds: 3 },
          { percent: 10, minDevices: 50, soakSeconds: 1 },
          { percent: 100, minDevices: 100, soakSeconds: 0 },
        ],
        gate: { maxFailureRate: 0.1, minSample: 5, confidence: 0.95, maxFailures: 2, silentAfterSeconds: 600 },
        breachAction: 'rollback',
        start: true,
        reason: 'bad build',
      },
      (dry) => dry.phases[0].devices >= 6,
    )
    // done once every device that installed 1.1.0 is back on 1.0.0
    await drive(f, id, (r) => r.rollout.state === 'rolled_back' && f.devices.every((d) => d.runs.get('rootfs') === '1.0.0'), { decide })
    const r = await rollout(f, id)
    t.equal(r.rollout.state, 'rolled_back')
    t.equal(r.rollout.phase, 0, 'phase 2 never started')
    t.ok(r.totals.failed >= 2, `the gate saw the failures (${r.totals.failed})`)
    t.ok(r.phases.slice(1).every((p: any) => p.members.assigned === 0), 'no device outside the canary was assigned')
    const installedNew = f.devices.filter((d) => d.received.some((x) => x.action === 'install' && x.version === '1.1.0'))
    const healthyNew = installedNew.filter((d) => d.received.some((x) => x.action === 'rollback'))
    t.ok(healthyNew.length > 0, 'devices that had installed 1.1.0 were sent back')
    t.ok(healthyNew.every((d) => d.received.find((x) => x.action === 'rollback')!.version === '1.0.0'), 'to the previous release')
    const list = await call(f.srv, f.op, 'GET', '/v1/devices?version=rootfs@1.1.0&limit=1000')
    t.equal(list.json.devices.length, 0, 'the server sees no device left on 1.1.0')
    t.equal(r.totals.reverted, healthyNew.length, 'and counts each reverted device')
    const entries = await audit(f, id)
    t.same(entries.map((e) => e.action), ['rollout.create', 'rollout.start', 'rollout.rollback'], 'exactly one automatic rollback, no promotion')
    t.equal(entries[2]!.actor, 'system:gate')
    t.match(entries[2]!.reason, /devices failed/)
  })

  t.test(`${mode.name}: silent devices past the deadline count as failed and pause the rollout`, async (t) => {
    const f = await setup(t, mode, 300, () => 'healthy')
    const v2 = await publish(f.srv, { version: '1.1.0' })
    let n = 0
    const decide = (): Behaviour => (n++ % 3 === 0 ? 'silent' : 'healthy')
    const created = await call(f.srv, f.op, 'POST', '/v1/rollouts', {
      release: `rootfs@${v2.version}`,
      phases: [{ percent: 20, minDevices: 1000, soakSeconds: 0 }, { percent: 100, minDevices: 1, soakSeconds: 0 }],
      gate: { maxFailureRate: 0.1, minSample: 10, silentAfterSeconds: 2 },
      start: true,
      reason: 'silence test',
    })
    const id = created.json.rollout.id
    await drive(f, id, (r) => r.rollout.state === 'paused', { decide })
    const r = await rollout(f, id)
    t.ok(r.totals.silent > 0, `silent devices counted (${r.totals.silent})`)
    t.equal(r.totals.failed, r.totals.silent, 'as failures, and nothing else failed')
    t.match(r.rollout.stateReason, /lower bound|devices failed/)
  })
}

export function raceScenario(t: Test): void {
t.test('postgres+redis: concurrent evaluations from several processes make exactly one transition', async (t) => {
  // no `slipway worker`: each failure report queues an evaluation, and a worker taking one
  // would pause the rollout before the calls below start, leaving none of them a winner;
  // with only these calls evaluating, exactly one of them must win
  const f = await setup(t, { ...scaled, workers: 0 }, 60, () => 'healthy')
  // a second server process on the same database and queue
  const other = await startServer({ DATABASE_URL: f.srv.config.databaseUrl!, REDIS_URL, SLIPWAY_QUEUE_PREFIX: f.srv.config.queuePrefix, SLIPWAY_KEYS_DIR: f.srv.config.keys.dir })
  t.teardown(() => other.close())
  const v2 = await publish(f.srv, { version: '1.1.0' })
  const created = await call(f.srv, f.op, 'POST', '/v1/rollouts', {
    release: `rootfs@${v2.version}`,
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { maxFailureRate: 0.1, minSample: 5, maxFailures: 3 },
    start: true,
    reason: 'race test',
  })
  const id = created.json.rollout.id
  // every device fails: the gate must pause exactly once
  await mapLimit(f.devices, 16, (d) => d.step(f.srv, () => 'fail-health'))
  // hammer evaluate from both server processes
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : f.srv).container.rollouts.evaluate(id)))
  const r = await rollout(f, id)
  t.equal(r.rollout.state, 'paused')
  const pauses = (await audit(f, id)).filter((e) => e.action === 'rollout.pause')
  t.equal(pauses.length, 1, 'one pause in the audit log')
  t.equal(results.filter((x) => x.transitioned).length, 1, 'exactly one of the 20 concurrent evaluations won')
})
}

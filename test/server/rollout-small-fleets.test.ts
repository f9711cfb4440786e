/**
 * Rollouts that fit small fleets: a dry run reserves the id the rollout will get, so its
 * counts are the real rollout's; gate presets with documented values; small-canary
 * promotes a 5-device canary with no failures after its soak and breaches on the first
 * failure; the healthy devices each phase needs are part of every view.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { healthyToPromote } from '../../server/domain/rollouts/gate-presets.js'
import { wilson } from '../../server/domain/rollouts/wilson.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish, type EnrolledDevice } from '../helpers/fleet.js'
import { startServer, type TestServer } from '../helpers/server.js'

t.test('healthyToPromote agrees with the Wilson bound it stands for', async (t) => {
  const gate = { maxFailureRate: 0.05, minSample: 5, confidence: 0.95, silentAfterSeconds: 60 }
  const n = healthyToPromote({ percent: 10, minDevices: 2, soakSeconds: 0 }, gate)!
  t.ok(wilson(0, n, 0.95).upper <= 0.05, `${n} healthy pass`)
  t.ok(wilson(0, n - 1, 0.95).upper > 0.05, `${n - 1} do not`)
  t.equal(healthyToPromote({ percent: 10, minDevices: 200, soakSeconds: 0 }, gate), 200, 'minDevices above the bound wins')
  t.equal(healthyToPromote({ percent: 10, minDevices: 5, soakSeconds: 0 }, { ...gate, maxFailureRate: 1 }), 5)
  t.equal(healthyToPromote({ percent: 10, minDevices: 5, soakSeconds: 0 }, { ...gate, maxFailureRate: 0 }), null)
})

async function fleetOf(srv: TestServer, n: number) {
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'field')
  const devs: EnrolledDevice[] = []
  for (let i = 0; i < n; i++) devs.push(await enroll(srv, et, { installed: [installedOf(v1)] }))
  return devs
}

t.test('dry run: a reserved id, the same counts for the rollout', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const devs = await fleetOf(srv, 40)
  const body = { release: 'rootfs@1.1.0', phases: [{ percent: 20 }, { percent: 60 }, { percent: 100 }], reason: 'x' }
  const dry = await call(srv, op, 'POST', '/v1/rollouts', { ...body, dryRun: true })
  t.equal(dry.status, 200, dry.raw.toString())
  t.match(dry.json.rolloutId, /^[0-9a-f-]{36}$/)
  const again = await call(srv, op, 'POST', '/v1/rollouts', { ...body, dryRun: true, id: dry.json.rolloutId })
  t.same(again.json.phases, dry.json.phases, 'a dry run under the reserved id counts the same')
  const created = await call(srv, op, 'POST', '/v1/rollouts', { ...body, id: dry.json.rolloutId, start: true })
  t.equal(created.status, 201, created.raw.toString())
  t.equal(created.json.rollout.id, dry.json.rolloutId)
  // every device polls: the first phase assigns exactly as many as the dry run counted
  let assigned = 0
  for (const d of devs) if ((await deviceCall(srv, d, 'GET', '/v1/device/update')).status === 200) assigned++
  t.equal(assigned, dry.json.phases[0].devices, 'phase 1 reaches what the dry run said')
  const reused = await call(srv, op, 'POST', '/v1/rollouts', { ...body, id: dry.json.rolloutId })
  t.equal(reused.status, 409)
  t.equal(reused.json.error.code, 'ROLLOUT_RESERVATION_UNKNOWN', 'a reservation is used once')
  const invented = await call(srv, op, 'POST', '/v1/rollouts', { ...body, id: randomUUID() })
  t.equal(invented.json.error.code, 'ROLLOUT_RESERVATION_UNKNOWN', 'an id nobody reserved is refused')
  const bad = await call(srv, op, 'POST', '/v1/rollouts', { ...body, gatePreset: 'lenient' })
  t.equal(bad.json.error.code, 'VALIDATION_FAILED')
})

t.test('small-canary: 5 healthy devices promote after the soak; the first failure breaches', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const devs = await fleetOf(srv, 5)
  const run = async (version: string, ok: boolean) => {
    const r = await call(srv, op, 'POST', '/v1/rollouts', {
      release: `rootfs@${version}`,
      phases: [{ percent: 100, minDevices: 5, soakSeconds: 1 }],
      gatePreset: 'small-canary',
      breachAction: 'pause',
      start: true,
      reason: 'canary',
    })
    t.equal(r.status, 201, r.raw.toString())
    t.same(r.json.rollout.gate, { maxFailureRate: 1, minSample: 5, confidence: 0.95, maxFailures: 1, silentAfterSeconds: 3600 }, 'the documented values')
    t.equal(r.json.phases[0].healthyToPromote, 5)
    const id = r.json.rollout.id
    let seq = 100
    for (const d of devs) t.equal((await deviceCall(srv, d, 'GET', '/v1/device/update')).status, 200, 'in the canary')
    for (const [i, d] of devs.entries()) {
      const failed = !ok && i === 2
      const rel = { name: 'rootfs', version }
      await deviceCall(srv, d, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq: ++seq, rolloutId: id, release: rel, state: failed ? 'failed' : 'succeeded' }] })
    }
    return id
  }
  const until = async (id: string, state: string) => {
    for (let i = 0; i < 100; i++) {
      const v = await call(srv, op, 'GET', `/v1/rollouts/${id}`)
      if (v.json.rollout.state === state) return v.json
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new Error(`rollout ${id} never became ${state}`)
  }
  const good = await run('1.1.0', true)
  const done = await until(good, 'completed')
  t.equal(done.totals.healthy, 5, 'five healthy devices and the soak were enough')

  await publish(srv, { version: '1.2.0' })
  const bad = await run('1.2.0', false)
  const paused = await until(bad, 'paused')
  t.match(paused.rollout.stateReason, /^1 devices failed \(0 silent\), limit 1/, 'the first failure is a breach')
})

/**
 * evaluate() under concurrency, on both databases (issue 18 §3): eight evaluations of
 * one breached running rollout, all from the same version, make exactly one transition
 * (one caller told it transitioned, one pause in the audit log), and a paused rollout
 * whose members still breach the gate is left alone (the running-only guard: without it
 * each evaluation would pause it again, one audit entry each).
 *
 * Members are marked failed through the repository, not by device reports: a report
 * queues an evaluation of its own, which would race the test's and could win before
 * it starts (zero winners among the test's calls). The periodic tick is an hour away.
 */
import t, { type Test } from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'

const QUIET = { SLIPWAY_ROLLOUT_TICK_SECONDS: '3600' }

async function scenario(t: Test, srv: TestServer): Promise<void> {
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'lab')
  const devices = await Promise.all(Array.from({ length: 4 }, () => enroll(srv, et, { installed: [installedOf(v1)] })))
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { maxFailureRate: 0.1, minSample: 5, maxFailures: 2 },
    start: true,
    reason: 'evaluate race',
  })
  t.equal(created.status, 201, created.raw.toString())
  const id = created.json.rollout.id as string
  for (const d of devices) t.equal((await deviceCall(srv, d, 'GET', '/v1/device/update')).status, 200, 'every device is assigned')

  const { members, rollouts, audit } = srv.container.repos.fleet
  const at = new Date().toISOString()
  for (const d of devices.slice(0, 2)) t.ok(await members.report(id, d.deviceId, { seq: 1, state: 'failed', reason: null, at }), 'marked failed')
  const before = (await rollouts.findById(id))!
  t.equal(before.state, 'running')
  const pauses = async () => (await audit.list({ subject: `rollout:${id}`, limit: 100 })).filter((e) => e.action === 'rollout.pause').length

  const results = await Promise.all(Array.from({ length: 8 }, () => srv.container.rollouts.evaluate(id)))
  const winners = results.filter((r) => r.transitioned)
  t.equal(winners.length, 1, 'of 8 concurrent evaluations from one version exactly one transitions')
  t.match(winners[0]?.decision, { verdict: 'breach', reason: '2 devices failed (0 silent), limit 2' })
  const after = (await rollouts.findById(id))!
  t.match(after, { state: 'paused', version: before.version + 1, stateReason: '2 devices failed (0 silent), limit 2' })
  t.equal(await pauses(), 1, 'one pause in the audit log')

  t.same(await srv.container.rollouts.evaluate(id), { transitioned: false }, 'a paused rollout is not evaluated, breached or not')
  t.equal((await rollouts.findById(id))!.version, after.version, 'nor written')
  t.equal(await pauses(), 1, 'nor audited')
  t.same(await srv.container.rollouts.evaluate('00000000-0000-4000-8000-000000000000'), { transitioned: false }, 'an unknown rollout: nothing to do')
}

t.test('sqlite', async (t) => {
  const srv = await startServer(QUIET)
  t.teardown(() => srv.close())
  await scenario(t, srv)
})

t.test('postgres', async (t) => {
  const pg = await freshPostgres()
  const srv = await startServer({ ...QUIET, DATABASE_URL: pg.url }).catch(async (e: unknown) => {
    await pg.drop()
    throw e
  })
  t.teardown(async () => {
    try {
      await srv.close()
    } finally {
      await pg.drop()
    }
  })
  await scenario(t, srv)
})

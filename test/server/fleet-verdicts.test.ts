/**
 * Fast checks of what only slow end-to-end scenarios used to catch, on both databases:
 * the member verdict query (healthy, failed, silent, pending), the compare-and-set on
 * rollout transitions (of N concurrent transitions from one version exactly one wins),
 * and evaluate()'s running-only guard.
 */
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'

async function scenario(t: Test, srv: TestServer): Promise<void> {
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'lab')
  const devices = await Promise.all(Array.from({ length: 6 }, () => enroll(srv, et, { installed: [installedOf(v1)] })))
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    phases: [{ percent: 100, minDevices: 50, soakSeconds: 3600 }],
    gate: { maxFailureRate: 0.5, minSample: 50 },
    start: true,
    reason: 'verdicts',
  })
  t.equal(created.status, 201, created.raw.toString())
  const id = created.json.rollout.id as string
  for (const d of devices) t.equal((await deviceCall(srv, d, 'GET', '/v1/device/update')).status, 200, 'every device is assigned')

  const release = { name: 'rootfs', version: v2.version }
  const event = (d: (typeof devices)[number], seq: number, state: string) => deviceCall(srv, d, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq, rolloutId: id, release, state }] })
  const health = (d: (typeof devices)[number], seq: number, ok: boolean) =>
    deviceCall(srv, d, 'POST', '/v1/device/health', { id: randomUUID(), seq, rolloutId: id, release, bootOk: true, checks: [{ name: 'unit:app', ok }], metrics: {} })
  const [healthy, failed, unhealthy, downloading] = devices as [(typeof devices)[number], (typeof devices)[number], (typeof devices)[number], (typeof devices)[number]]
  t.equal((await event(healthy, 1, 'succeeded')).status, 200)
  t.equal((await health(healthy, 2, true)).status, 200)
  t.equal((await event(failed, 1, 'failed')).status, 200)
  t.equal((await event(unhealthy, 1, 'succeeded')).status, 200)
  t.equal((await health(unhealthy, 2, false)).status, 200)
  t.equal((await event(downloading, 1, 'downloading')).status, 200)
  // the two others never report

  const members = srv.container.repos.fleet.members
  const past = new Date(Date.now() - 3600_000).toISOString()
  const future = new Date(Date.now() + 3600_000).toISOString()
  t.same(await members.counts(id, past), new Map([[0, { assigned: 6, healthy: 1, failed: 2, silent: 0, pending: 3, reverted: 0 }]]), 'nobody is silent yet')
  t.same(
    await members.counts(id, future),
    new Map([[0, { assigned: 6, healthy: 1, failed: 5, silent: 3, pending: 0, reverted: 0 }]]),
    'past the deadline the three that did not finish are silent, and silent counts as failed; a finished device is never silent',
  )

  const rollouts = srv.container.repos.fleet.rollouts
  const r = (await rollouts.findById(id))!
  const next = { ...r, state: 'paused' as const, version: r.version + 1, updatedAt: new Date().toISOString(), stateReason: 'race' }
  const wins = await Promise.all(Array.from({ length: 8 }, () => rollouts.compareAndSet(next)))
  t.equal(wins.filter(Boolean).length, 1, 'of 8 concurrent transitions from one version exactly one wins')
  t.equal((await rollouts.compareAndSet({ ...next, version: r.version + 1 })), false, 'a transition from a version already left loses')
  t.equal((await rollouts.findById(id))!.state, 'paused')

  t.same(await srv.container.rollouts.evaluate(id), { transitioned: false }, 'a paused rollout is not evaluated')
  const resumed = await Promise.allSettled(Array.from({ length: 4 }, () => srv.container.rollouts.act(id, 'resume', 'token:test', 'race')))
  t.equal(resumed.filter((x) => x.status === 'fulfilled').length, 1, 'of 4 concurrent resumes exactly one wins')
  t.ok(resumed.filter((x) => x.status === 'rejected').every((x) => (x as PromiseRejectedResult).reason.code === 'ROLLOUT_ILLEGAL_TRANSITION'), 'the others are told the rollout is running already')
}

t.test('sqlite', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await scenario(t, srv)
})

t.test('postgres', async (t) => {
  const pg = await freshPostgres()
  const srv = await startServer({ DATABASE_URL: pg.url })
  t.teardown(async () => {
    await srv.close()
    await pg.drop()
  })
  await scenario(t, srv)
})

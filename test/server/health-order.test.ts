/**
 * Issue 11: health reports are ordered by `seq` like events. fast-check generates a
 * burst of health reports (ok or failed, consecutive seqs) and the order they arrive
 * in; whatever the order, the member's health is the report with the highest seq —
 * a late stale failure never turns a healthy member failed and a late stale success
 * never hides a failure. Embedded (SQLite) and PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer } from '../helpers/server.js'

async function sweep(t: Test, env: Record<string, string>): Promise<void> {
  const srv = await startServer(env)
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const rel = await publish(srv, { version: '2.0.0' })
  const dev = await enroll(srv, await enrollmentToken(srv, 'lab'))
  // a gate that never decides (huge minimum sample), so failures cannot pause the rollout mid-test
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: `${rel.name}@${rel.version}`,
    phases: [{ percent: 100, minDevices: 1000, soakSeconds: 0 }],
    gate: { minSample: 1000 },
    start: true,
  })
  t.equal(created.status, 201)
  const rolloutId = created.json.rollout.id
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).status, 200, 'the device joins the rollout')
  let base = 0
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.boolean(), { minLength: 2, maxLength: 6 }).chain((oks) => fc.tuple(fc.constant(oks), fc.shuffledSubarray([...oks.keys()], { minLength: oks.length, maxLength: oks.length }))),
      async ([oks, order]) => {
        for (const i of order) {
          const r = await deviceCall(srv, dev, 'POST', '/v1/device/health', {
            id: randomUUID(),
            seq: base + i + 1,
            rolloutId,
            release: { name: rel.name, version: rel.version },
            bootOk: oks[i],
            checks: [],
            metrics: { seq: base + i + 1 },
          })
          if (r.status !== 200) throw new Error(`health: ${r.status} ${JSON.stringify(r.json)}`)
        }
        base += oks.length
        const view = await call(srv, op, 'GET', `/v1/rollouts/${rolloutId}`)
        const newest = oks.at(-1)!
        if (view.json.totals.failed !== (newest ? 0 : 1)) throw new Error(`delivered ${order.join(',')} of ${oks.join(',')}: failed=${view.json.totals.failed}`)
      },
    ),
    { numRuns: 25 },
  )
  t.pass('the newest health report by seq wins, whatever order they arrive in')
}

t.test('embedded (SQLite)', (t) => sweep(t, {}))

t.test('PostgreSQL', async (t) => {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  await sweep(t, { DATABASE_URL: pg.url })
})

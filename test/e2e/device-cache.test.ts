/**
 * Issue 14 §5: the poll reads devices through a per-replica cache (device-cache.ts),
 * with its fallback expiry set to an hour here (SLIPWAY_DEVICE_CACHE_SECONDS, and the
 * rollout cache's to 10 minutes), so only the change bus can explain a replica that
 * sees a change. Two replicas on PostgreSQL + Redis: each change is made on replica A,
 * and replica B, which had the devices cached, must answer by it within 1 s: a label
 * change, a report and a fleet rollback, a quarantine, a credential rotated by
 * re-enrollment.
 */
import { join } from 'node:path'
import t from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish, type EnrolledDevice } from '../helpers/fleet.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `srv` as `dev` until `ok` holds, for at most 1 s; returns the last answer and how long it took. */
async function within1s(srv: TestServer, dev: EnrolledDevice, ok: (status: number, json: any) => boolean, headers: Record<string, string> = {}) {
  const start = Date.now()
  for (;;) {
    const r = await deviceCall(srv, dev, 'GET', '/v1/device/update', undefined, headers)
    if (ok(r.status, r.json) || Date.now() - start > 1000) return { r, ms: Date.now() - start, ok: ok(r.status, r.json) }
    await sleep(10)
  }
}

t.test('two replicas: a change made on A reaches the poll cache of B within 1 s', async (t) => {
  const env = { ...(await scaleOutEnv(t)), SLIPWAY_DEVICE_CACHE_SECONDS: '3600', SLIPWAY_ROLLOUT_CACHE_MS: '600000' }
  const a = await startServer(env)
  t.teardown(() => a.close())
  const b = await startServer({ ...env, SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem') })
  t.teardown(() => b.close())
  const op = await a.token('operator')
  const v1 = await publish(a, { version: '1.0.0' })
  const v2 = await publish(a, { version: '2.0.0' })
  const token = await enrollmentToken(a, 'field')
  const [d1, d2, d3] = await Promise.all([0, 1, 2].map(() => enroll(a, token, { installed: [installedOf(v1)] })))
  const created = await call(a, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@2.0.0',
    selector: { group: 'canary' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { minSample: 1_000_000, silentAfterSeconds: 86400 },
    allowEmpty: true,
    start: true,
    reason: 'test',
  })
  t.equal(created.status, 201, created.raw.toString())
  const rolloutId = created.json.rollout.id

  // B caches all three (none is in the canary group: nothing to do)
  for (const d of [d1!, d2!, d3!]) t.equal((await deviceCall(b, d, 'GET', '/v1/device/update')).status, 204)
  t.ok(b.container.deviceCache.size >= 3, `replica B holds the devices in its cache (${b.container.deviceCache.size})`)

  // 1. a label change on A: B offers the rollout
  t.equal((await call(a, op, 'PATCH', `/v1/devices/${d1!.deviceId}`, { group: 'canary', reason: 'test' })).status, 200)
  const offered = await within1s(b, d1!, (s) => s === 200)
  t.ok(offered.ok, `B offers the release after the relabel on A (${offered.ms} ms)`)
  const etag = offered.r.headers.get('etag')!
  t.equal((await deviceCall(b, d1!, 'GET', '/v1/device/update', undefined, { 'if-none-match': etag })).status, 304, 'and then answers 304 to that ETag')

  // 2. the device reports success on A, then the operator rolls the fleet back on A: B sends the rollback
  const ev = (seq: number, state: string) => ({ id: `e-${seq}`, seq, rolloutId, release: { name: 'rootfs', version: '2.0.0' }, state, mode: 'full' })
  t.equal((await deviceCall(a, d1!, 'POST', '/v1/device/events', { events: [ev(1, 'installing'), ev(2, 'succeeded')] })).status, 200)
  t.equal((await call(a, op, 'POST', `/v1/rollouts/${rolloutId}/rollback`, { reason: 'test' })).status, 200)
  const back = await within1s(b, d1!, (s, j) => s === 200 && j?.action === 'rollback', { 'if-none-match': etag })
  t.ok(back.ok, `B sends the rollback to ${v1.version} after the report and the rollback on A (${back.ms} ms): ${back.r.status}`)
  t.equal(back.r.json?.assignment?.signed?.release?.version, '1.0.0')
  t.not(back.r.headers.get('etag'), etag, 'a new ETag')

  // 3. a quarantine on A: B refuses the device
  t.equal((await call(a, op, 'POST', `/v1/devices/${d2!.deviceId}/quarantine`, { reason: 'test' })).status, 200)
  const refused = await within1s(b, d2!, (s, j) => s === 403 && j?.error?.code === 'DEVICE_QUARANTINED')
  t.ok(refused.ok, `B refuses the quarantined device (${refused.ms} ms): ${refused.r.status} ${refused.r.raw}`)

  // 4. a certificate revoked on A: B refuses it within a second (it was cached there)
  t.equal((await deviceCall(b, d3!, 'GET', '/v1/device/update')).status, 204, 'B knows the certificate')
  t.equal((await call(a, op, 'POST', `/v1/device-certificates/${d3!.serial}/revoke`, { reason: 'key leaked' })).status, 200)
  const revoked = await within1s(b, d3!, (s) => s === 401)
  t.ok(revoked.ok, `B refuses the revoked certificate (${revoked.ms} ms): ${revoked.r.status}`)
  // a re-enrollment without proof of the old key is only a claim: the device waits for approval
  const again = await enroll(a, token, { hardwareId: d3!.hardwareId, installed: [installedOf(v1)] })
  t.equal(again.state, 'pending', 'a claim, not a takeover')
})

/**
 * The device boundary on the scale-out deployment (PostgreSQL, Redis, S3 via s3rver),
 * with two replicas: replica A redirects downloads to presigned S3 URLs, replica B
 * proxies them. The download ledger, the rate limits and the quarantine are shared:
 * an attacker spreading requests over replicas meets one count.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { call } from '../helpers/api.js'
import { assignedFleet } from '../helpers/boundary.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll } from '../helpers/fleet.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

t.test('two replicas share the download ledger, the rate limits and the quarantine', async (t) => {
  const env = {
    ...(await scaleOutEnv(t, { s3: true })),
    SLIPWAY_DOWNLOAD_BUDGET_FACTOR: '2',
    SLIPWAY_AUTH_FAILURES_PER_MINUTE: '10',
    SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE: '4',
  }
  const a: TestServer = await startServer(env)
  t.teardown(() => a.close())
  const b: TestServer = await startServer({ ...env, SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem'), S3_PROXY_DOWNLOADS: 'true' })
  t.teardown(() => b.close())
  const f = await assignedFleet(a)
  const ghost = randomBytes(32).toString('hex')

  // assignment-limited downloads, on the redirecting and the proxying replica
  for (const srv of [a, b]) {
    const missing = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${ghost}`)
    const model = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.model.sha256}`)
    t.equal(model.status, 404, 'the unassigned model is not found')
    t.equal(model.raw.toString('utf8'), missing.raw.toString('utf8').replaceAll(ghost, f.model.sha256), 'with the missing-blob body')
    t.equal((await deviceCall(srv, f.other, 'GET', `/v1/blobs/${f.v2.sha256}`)).status, 404, 'a device outside the rollout gets nothing')
  }
  const ci = await a.token('ci')
  const redirect = await fetch(`${a.url}/v1/blobs/${f.model.sha256}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })
  t.equal(redirect.status, 302, 'CI still reaches the model (a presigned redirect)')

  // A redirects (counting what it hands out), B streams: one ledger for both
  const viaA = await deviceCall(a, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`)
  t.equal(viaA.status, 200, 'followed the presigned redirect')
  t.same(viaA.raw, f.v2.data)
  t.match(viaA.headers.get('content-disposition') ?? '', f.dev.deviceId, 'the presigned URL was issued for this device and assignment')
  t.equal((await deviceCall(b, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`)).status, 200)
  for (const srv of [a, b]) {
    const over = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { range: 'bytes=0-9' })
    t.equal(over.status, 429, 'the budget (2x) is spent across replicas')
    t.equal(over.json.error.code, 'DOWNLOAD_BUDGET_EXCEEDED')
  }

  // failed authentication: 10 a minute per address, counted in Redis by both replicas
  const wrong = () => `sld_${randomBytes(32).toString('base64url')}`
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await call(i % 2 ? a : b, wrong(), 'GET', '/v1/device/update')).status)
  t.same(statuses, [...Array(10).fill(401), 429, 429], 'the 11th failure, whichever replica, is 429')
  for (const srv of [a, b]) t.equal((await deviceCall(srv, f.dev, 'GET', '/v1/device/update')).status, 200, 'the valid device is not slowed')

  // enrollment per token: 4 a minute across replicas (assignedFleet took 2)
  await enroll(a, f.et)
  await enroll(b, f.et)
  const fifth = await fetch(`${a.url}/v1/device/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken: f.et, hardwareId: 'swarm', hardware: 'rpi5', tags: [], installed: [] }),
  })
  t.equal(fifth.status, 429)
  t.equal(((await fifth.json()) as any).error.code, 'ENROLLMENT_RATE_LIMITED')

  // quarantine on A: refused on B at once; the rollout on both shows it out of the counts
  t.equal((await call(a, f.op, 'POST', `/v1/devices/${f.dev.deviceId}/quarantine`, { reason: 'exfiltration' })).status, 200)
  const onB = await deviceCall(b, f.dev, 'GET', '/v1/device/update')
  t.equal(onB.status, 403)
  t.equal(onB.json.error.code, 'DEVICE_QUARANTINED')
  const opB = await b.token('operator')
  t.equal((await call(b, opB, 'GET', `/v1/rollouts/${f.rolloutId}`)).json.totals.assigned, 0, 'no member left in the counts')
})

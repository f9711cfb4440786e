/**
 * The scale-out deployment on real services: PostgreSQL (fresh database), Redis
 * (random key prefix), S3 (s3rver), two server replicas with no shared folder
 * (uploads go straight to S3 multipart, locks through Redis), and a separate
 * `slipway worker` process.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from 'minio'
import pg from 'pg'
import t from 'tap'
import { call, releaseBody, sha256 } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

t.test('two replicas and a worker on Postgres + Redis + S3', async (t) => {
  const services = await scaleOutEnv(t, { s3: true })
  const scratch = await mkdtemp(join(tmpdir(), 'slipway-scale-out-'))
  t.teardown(() => rm(scratch, { recursive: true, force: true }))
  const env = { ...services }
  const a: TestServer = await startServer(env)
  t.teardown(() => a.close())
  // replicas share the online key (in production: one PKCS#11 key); A created the dev root
  const onlineKey = { SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem') }
  const b: TestServer = await startServer({ ...env, ...onlineKey, S3_PROXY_DOWNLOADS: 'true' })
  t.teardown(() => b.close())
  t.equal(b.adminToken, '', 'the second replica sees the admin the first one bootstrapped')

  const ready = await call(a, undefined, 'GET', '/readyz')
  t.same(ready.json, { ready: true, checks: { database: { ok: true }, blobs: { ok: true }, queue: { ok: true } } })

  // start an upload on replica A, finish it on replica B, publish through A
  const ci = await a.token('ci')
  const data = randomBytes(3 * 1024 * 1024 + 5)
  const created = await call(a, ci, 'POST', '/v1/uploads', undefined, { 'tus-resumable': '1.0.0', 'upload-length': String(data.length) })
  t.equal(created.status, 201)
  const id = created.headers.get('location')!.split('/').pop()!
  const patch = (srv: TestServer, offset: number, body: Buffer) =>
    fetch(`${srv.url}/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ci}`, 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(body),
    })
  t.equal((await patch(a, 0, data.subarray(0, 1_000_000))).status, 204)
  const head = await call(b, ci, 'HEAD', `/v1/uploads/${id}`, undefined, { 'tus-resumable': '1.0.0' })
  t.equal(head.headers.get('upload-offset'), '1000000', 'replica B sees the offset replica A wrote')
  t.equal((await patch(b, 1_000_000, data.subarray(1_000_000))).status, 204)
  const pub = await call(a, ci, 'POST', '/v1/releases', await releaseBody(a, id, data))
  t.equal(pub.status, 201)
  t.same((await call(b, ci, 'GET', `/v1/releases/${pub.json.id}`)).json, pub.json, 'the release is in the shared database')

  // A redirects to a presigned S3 URL; B proxies with ranges
  const redirect = await fetch(`${a.url}/v1/blobs/${sha256(data)}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })
  t.equal(redirect.status, 302)
  const location = redirect.headers.get('location')!
  t.ok(location.startsWith(services.S3_ENDPOINT!), 'redirects to the object store')
  t.match(location, /X-Amz-Signature=/)
  t.ok(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(data), 'the presigned URL serves the blob')
  const ranged = await call(b, ci, 'GET', `/v1/blobs/${sha256(data)}`, undefined, { range: 'bytes=3145000-3145799' })
  t.equal(ranged.status, 206)
  t.ok(ranged.raw.equals(data.subarray(3145000, 3145800)))
  const missing = await fetch(`${a.url}/v1/blobs/${'e'.repeat(64)}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })
  t.equal(missing.status, 404, 'no redirect for a blob that does not exist')

  // an abandoned upload (some bytes in its S3 tail object), aged past its expiry, is
  // reclaimed by a separate worker process: ledger row and S3 objects
  const stale = await call(a, ci, 'POST', '/v1/uploads', undefined, { 'tus-resumable': '1.0.0', 'upload-length': '100' })
  const staleId = stale.headers.get('location')!.split('/').pop()!
  const half = await fetch(`${b.url}/v1/uploads/${staleId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ci}`, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: new Uint8Array(50),
  })
  t.equal(half.headers.get('upload-offset'), '50')
  const s3 = new Client({ endPoint: '127.0.0.1', port: Number(new URL(services.S3_ENDPOINT!).port), useSSL: false, accessKey: services.S3_ACCESS_KEY!, secretKey: services.S3_SECRET_KEY! })
  t.ok(await s3.statObject(services.S3_BUCKET!, `uploads/${staleId}.tail`), 'the partial bytes wait in S3, not on a replica')
  const db = new pg.Client({ connectionString: services.DATABASE_URL })
  await db.connect()
  await db.query(`UPDATE multipart_uploads SET created_at = $1 WHERE id = $2`, [new Date(Date.now() - 3 * 24 * 3600_000).toISOString(), staleId])
  const worker = slipway(['worker'], { ...env, ...onlineKey, LOG_LEVEL: 'warn', WORKER_PORT: '0', SLIPWAY_DATA_DIR: join(scratch, 'worker-data') })
  t.teardown(() => worker.child.kill('SIGKILL'))
  const deadline = Date.now() + 20_000
  while ((await db.query('SELECT 1 FROM multipart_uploads WHERE id = $1', [staleId])).rowCount) {
    if (Date.now() > deadline) throw new Error('the worker did not reclaim the expired upload')
    await new Promise((r) => setTimeout(r, 100))
  }
  await db.end()
  await t.rejects(s3.statObject(services.S3_BUCKET!, `uploads/${staleId}.tail`), { code: 'NotFound' }, 'its tail object is gone')
  t.pass('the worker reclaimed the expired upload')
  worker.child.kill('SIGTERM')
  const exit = await worker.done
  t.equal(exit.code, 0, `worker stops cleanly on SIGTERM: ${exit.stderr}`)
})

/**
 * Uploads without a shared folder (scale-out, S3 mode): tus PATCHes go straight to
 * S3 multipart through whichever replica they reach, each part's ETag in the
 * PostgreSQL ledger, locks in Redis. Two replicas on one PostgreSQL, Redis and s3rver.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { Client } from 'minio'
import pg from 'pg'
import t, { type Test } from 'tap'
import { call, releaseBody, sha256 } from '../helpers/api.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

const MiB = 1024 * 1024
const TUS = { 'tus-resumable': '1.0.0' }

async function twoReplicas(t: Test, extra: Record<string, string> = {}) {
  const env = { ...(await scaleOutEnv(t, { s3: true })), ...extra }
  const a = await startServer(env)
  t.teardown(() => a.close())
  const b = await startServer({ ...env, SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem') })
  t.teardown(() => b.close())
  t.equal(b.container.uploads.constructor.name, 'S3UploadArea', 'S3 mode: uploads go to S3, no folder')
  return { env, a, b, ci: await a.token('ci') }
}

async function create(srv: TestServer, ci: string, length: number): Promise<string> {
  const r = await call(srv, ci, 'POST', '/v1/uploads', undefined, { ...TUS, 'upload-length': String(length) })
  if (r.status !== 201) throw new Error(`create: ${r.status}`)
  return r.headers.get('location')!.split('/').pop()!
}

function patch(srv: TestServer, ci: string, id: string, offset: number, body: Buffer | ReadableStream<Uint8Array>, signal?: AbortSignal) {
  return fetch(`${srv.url}/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ci}`, ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : body,
    ...(Buffer.isBuffer(body) ? {} : { duplex: 'half' }),
    ...(signal ? { signal } : {}),
  } as RequestInit)
}

async function offsetOf(srv: TestServer, ci: string, id: string): Promise<number> {
  const r = await call(srv, ci, 'HEAD', `/v1/uploads/${id}`, undefined, TUS)
  return Number(r.headers.get('upload-offset'))
}

/** A body that sends `data` in 1 MiB chunks, then stalls (a half-open connection) until `release` resolves. */
function stallingBody(data: Buffer, release: Promise<void>): ReadableStream<Uint8Array> {
  let sent = 0
  return Readable.toWeb(
    new Readable({
      read() {
        if (sent >= data.length) return void release.then(() => this.push(null))
        this.push(data.subarray(sent, sent + MiB))
        sent += MiB
      },
    }),
  ) as ReadableStream<Uint8Array>
}

t.test('an upload of several parts moves between replicas, survives a broken PATCH and a half-open one, and binds', async (t) => {
  const { env, a, b, ci } = await twoReplicas(t)
  const data = randomBytes(21 * MiB + 12345) // three 8 MiB parts, the last one short
  const id = await create(a, ci, data.length)

  // 5 MiB through A (less than a part: it waits in the tail object), 6 more through B
  t.equal((await patch(a, ci, id, 0, data.subarray(0, 5 * MiB))).status, 204)
  t.equal(await offsetOf(b, ci, id), 5 * MiB, 'B sees the offset A wrote')
  t.equal((await patch(b, ci, id, 5 * MiB, data.subarray(5 * MiB, 11 * MiB))).status, 204)

  // a PATCH to A stalls with its connection open (half-open): the client gives up and asks
  // B, whose lock request makes A end that PATCH and keep what it received
  let unstall!: () => void
  const stalled = patch(a, ci, id, 11 * MiB, stallingBody(data.subarray(11 * MiB, 15 * MiB), new Promise((r) => (unstall = r))))
  stalled.catch(() => {})
  const deadline = Date.now() + 30_000
  while ((await offsetOf(b, ci, id)) === 11 * MiB) {
    // each HEAD through B takes the lock from A: what A received so far is persisted
    if (Date.now() > deadline) throw new Error('the stalled PATCH was never released')
    await new Promise((r) => setTimeout(r, 200))
  }
  const resumed = await offsetOf(b, ci, id)
  t.ok(resumed > 11 * MiB && resumed <= 15 * MiB, `A kept what it received before B took the lock (${resumed})`)
  unstall()

  // a PATCH that breaks mid-body (client aborts): the offset stays true, the client resumes
  const abort = new AbortController()
  let sent = 0
  const breaking = Readable.toWeb(
    new Readable({
      read() {
        if (sent >= 3 * MiB) return void setTimeout(() => abort.abort(), 200)
        this.push(data.subarray(resumed + sent, resumed + sent + MiB))
        sent += MiB
      },
    }),
  ) as ReadableStream<Uint8Array>
  await t.rejects(patch(b, ci, id, resumed, breaking, abort.signal), { name: 'AbortError' })
  let at = await offsetOf(a, ci, id)
  for (let i = 0; i < 50 && at === resumed; i++) {
    await new Promise((r) => setTimeout(r, 100))
    at = await offsetOf(a, ci, id)
  }
  t.ok(at >= resumed && at <= resumed + 3 * MiB, `after the broken PATCH the offset is what arrived (${at})`)

  // finish through A; A did not see every byte in order, so the bind re-reads the object from S3
  t.equal((await patch(a, ci, id, at, data.subarray(at))).status, 204)
  const ledger = new pg.Client({ connectionString: env.DATABASE_URL })
  await ledger.connect()
  t.teardown(() => ledger.end())
  const parts = await ledger.query('SELECT part_number, length, etag FROM multipart_upload_parts WHERE upload_id = $1 ORDER BY part_number', [id])
  t.same(
    parts.rows.map((p) => [p.part_number, Number(p.length)]),
    [[1, 8 * MiB], [2, 8 * MiB], [3, 5 * MiB + 12345]],
    'three parts, each ETag kept in the ledger',
  )
  t.ok(parts.rows.every((p) => /^[0-9a-f]{32}$/.test(p.etag)))
  t.equal(a.container.uploads.store.constructor.name, 'S3MultipartStore')
  t.equal((await a.container.uploads.get(id))?.sha256, undefined, 'no replica saw every byte: the bind hashes the S3 object')

  const pub = await call(b, ci, 'POST', '/v1/releases', await releaseBody(a, id, data))
  t.equal(pub.status, 201, JSON.stringify(pub.json))
  const back = await fetch((await fetch(`${a.url}/v1/blobs/${sha256(data)}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })).headers.get('location')!)
  t.ok(Buffer.from(await back.arrayBuffer()).equals(data), 'the blob holds exactly the uploaded bytes')
  t.equal((await ledger.query('SELECT 1 FROM multipart_uploads WHERE id = $1', [id])).rowCount, 0, 'the bound upload left the ledger')
  const s3 = new Client({ endPoint: '127.0.0.1', port: Number(new URL(env.S3_ENDPOINT!).port), useSSL: false, accessKey: env.S3_ACCESS_KEY!, secretKey: env.S3_SECRET_KEY! })
  await t.rejects(s3.statObject(env.S3_BUCKET!, `uploads/${id}`), { code: 'NotFound' }, 'and its staging object is gone')
})

t.test('bytes that do not hash to the declared sha256 bind nothing and leave nothing', async (t) => {
  const { env, a, b, ci } = await twoReplicas(t)
  const data = randomBytes(9 * MiB)
  const id = await create(a, ci, data.length)
  // one replica sees every byte in order: its streaming hash is used at bind time
  t.equal((await patch(a, ci, id, 0, data)).status, 204)
  t.equal((await a.container.uploads.get(id))?.sha256, sha256(data), 'hashed while streaming')
  const bad = await call(a, ci, 'POST', '/v1/releases', await releaseBody(a, id, data, { sha256: sha256(Buffer.from('other')) }))
  t.equal(bad.status, 422)
  t.equal(bad.json.error.code, 'DIGEST_MISMATCH')
  t.equal((await call(b, ci, 'HEAD', `/v1/uploads/${id}`, undefined, TUS)).status, 404, 'the upload is gone on every replica')
  const s3 = new Client({ endPoint: '127.0.0.1', port: Number(new URL(env.S3_ENDPOINT!).port), useSSL: false, accessKey: env.S3_ACCESS_KEY!, secretKey: env.S3_SECRET_KEY! })
  await t.rejects(s3.statObject(env.S3_BUCKET!, `uploads/${id}`), { code: 'NotFound' })
  const list = await call(a, ci, 'GET', '/v1/releases')
  t.same(list.json.releases ?? list.json, [], 'no release')
})

t.test('presigned download URLs name S3_PUBLIC_ENDPOINT, one object, a short expiry', async (t) => {
  const { a, ci } = await twoReplicas(t, { S3_PUBLIC_ENDPOINT: 'https://s3.devices.example:9443', S3_PRESIGN_SECONDS: '120' })
  const data = randomBytes(1000)
  const id = await create(a, ci, data.length)
  await patch(a, ci, id, 0, data)
  t.equal((await call(a, ci, 'POST', '/v1/releases', await releaseBody(a, id, data))).status, 201)
  const r = await fetch(`${a.url}/v1/blobs/${sha256(data)}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })
  t.equal(r.status, 302)
  const u = new URL(r.headers.get('location')!)
  t.equal(u.origin, 'https://s3.devices.example:9443', 'signed for the host devices reach')
  t.equal(u.pathname, `/${a.config.s3!.bucket}/blobs/sha256/${sha256(data)}`, 'exactly one object')
  t.equal(u.searchParams.get('X-Amz-Expires'), '120', 'expires after S3_PRESIGN_SECONDS')
  t.match(u.searchParams.get('X-Amz-SignedHeaders') ?? '', /host/, 'the signature covers the host')
})

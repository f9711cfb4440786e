/**
 * S3BlobStore against s3rver 3.7, started in-process: the BlobStore contract, plus
 * what only the S3 adapter does (key layout, error translation).
 *
 * What s3rver CANNOT test, so these tests do not cover it (run against a real
 * MinIO or AWS S3 for that):
 * - multipart upload: s3rver answers 501, so uploads of unknown length and
 *   objects over 64 MiB (minio's part size), and the UploadPartCopy path used
 *   for server-side copies over 5 GiB, are not exercised;
 * - presigned URL security: s3rver checks no signatures, so a tampered or
 *   expired presigned URL still works; only that a valid URL serves the bytes
 *   is tested here.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Client } from 'minio'
import t from 'tap'
import { S3BlobStore } from '../../server/adapters/blob/index.js'
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js'
import { blobStoreContract, chunked, infoOf, type BlobStoreFixture } from './blob-store.contract.js'

const s3 = await startS3rver()
t.teardown(() => s3.close())

const client = new Client({
  endPoint: '127.0.0.1',
  port: Number(new URL(s3.endPoint).port),
  useSSL: false,
  accessKey: s3.accessKey,
  secretKey: s3.secretKey,
  region: 'us-east-1',
})

async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const item of client.listObjectsV2(bucket, prefix, true)) {
    if (item.name) keys.push(item.name)
  }
  return keys
}

async function removeBucket(bucket: string): Promise<void> {
  const keys = await listKeys(bucket, '')
  if (keys.length > 0) await client.removeObjects(bucket, keys)
  await client.removeBucket(bucket)
}

const storeFor = (h: S3rverHandle, bucket: string, endPoint = h.endPoint) =>
  new S3BlobStore({ endPoint, bucket, accessKey: h.accessKey, secretKey: h.secretKey })

/** Each store gets its own bucket, created by `init()` as in production. */
async function makeS3Store(): Promise<BlobStoreFixture> {
  const bucket = `blobs-${randomBytes(4).toString('hex')}`
  const store = storeFor(s3, bucket)
  await store.init()
  return {
    store,
    presigns: true,
    listStaging: () => listKeys(bucket, 'tmp/'),
    cleanup: () => removeBucket(bucket),
  }
}

/** A port nothing listens on: bind one, note it, release it. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
  return port
}

t.test('contract', async (t) => blobStoreContract(t, makeS3Store))

t.test('blobs live under blobs/sha256/<sha256>, staging is emptied', async (t) => {
  const data = randomBytes(2000)
  const info = infoOf(data)
  await storeFor(s3, s3.bucket).put(chunked(data), info)
  t.same(await listKeys(s3.bucket, ''), [`blobs/sha256/${info.sha256}`])
})

t.test('init is idempotent on an existing bucket', async (t) => {
  const store = storeFor(s3, s3.bucket)
  await t.resolves(store.init())
  await t.resolves(store.init())
  await t.resolves(store.ping())
})

t.test('a store pointed at a closed port is unavailable', async (t) => {
  const store = storeFor(s3, s3.bucket, `http://127.0.0.1:${await closedPort()}`)
  const unavailable = { code: 'DEPENDENCY_UNAVAILABLE', kind: 'unavailable' }
  await t.rejects(store.ping(), unavailable, 'ping')
  await t.rejects(store.stat('a'.repeat(64)), unavailable, 'stat')
  await t.rejects(store.get('a'.repeat(64)), unavailable, 'get')
  const data = randomBytes(100)
  await t.rejects(store.put(chunked(data), infoOf(data)), unavailable, 'put')
})

t.test('ping reports a missing bucket', async (t) => {
  const store = storeFor(s3, `missing-${randomBytes(4).toString('hex')}`)
  await t.rejects(store.ping(), { code: 'DEPENDENCY_UNAVAILABLE', message: /bucket missing-/ })
})

t.test('an endpoint that is not an http(s) URL is refused at construction', async (t) => {
  t.throws(() => storeFor(s3, s3.bucket, '127.0.0.1:9000'), { code: 'S3_BAD_ENDPOINT' })
  t.throws(() => storeFor(s3, s3.bucket, 'ftp://127.0.0.1:9000'), { code: 'S3_BAD_ENDPOINT' })
})

t.test('an upload that S3 rejects fails and leaves nothing', async (t) => {
  // No declared length makes minio use a multipart upload, which s3rver refuses
  // with 501: a convenient real backend failure (and the limitation above).
  const bucket = s3.bucket
  const data = randomBytes(500)
  await t.rejects(storeFor(s3, bucket).put(chunked(data)), { code: 'NotImplemented' })
  t.same(await listKeys(bucket, 'tmp/'), [], 'no staging object')
  t.equal(await storeFor(s3, bucket).stat(infoOf(data).sha256), undefined, 'no blob')
})

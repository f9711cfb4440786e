/**
 * The BlobStore contract: one suite, run against every adapter (file, S3) so that
 * they cannot drift apart. Each subtest gets a fresh, empty store.
 */
import { createHash, randomBytes } from 'node:crypto'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { BlobInfo, BlobStore } from '../../server/domain/ports/infrastructure.js'

export interface BlobStoreFixture {
  store: BlobStore
  /** Names of staging leftovers (files in `tmp/`, objects under `tmp/`). */
  listStaging(): Promise<string[]>
  /** Whether the store hands out presigned URLs (S3) or not (files). */
  presigns: boolean
  cleanup(): Promise<void>
}

export type MakeBlobStore = () => Promise<BlobStoreFixture>

export const infoOf = (data: Buffer): BlobInfo => ({
  sha256: createHash('sha256').update(data).digest('hex'),
  length: data.length,
})

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A stream of `data` in chunks, as an HTTP body would arrive. */
export function chunked(data: Buffer, chunkSize = 16 * 1024): Readable {
  const chunks: Buffer[] = []
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize))
  return Readable.from(chunks)
}

/** A stream that delivers the first `goodBytes` of `data` and then fails, like a dropped upload. */
export function failingAfter(data: Buffer, goodBytes: number, error: Error): Readable {
  return Readable.from(
    (async function* () {
      yield data.subarray(0, goodBytes)
      await new Promise((resolve) => setImmediate(resolve))
      throw error
    })(),
  )
}

export async function blobStoreContract(t: Test, makeStore: MakeBlobStore): Promise<void> {
  /** Run `fn` on a fresh store and always clean it up. */
  const withStore = (name: string, fn: (f: BlobStoreFixture, t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      const f = await makeStore()
      t.teardown(() => f.cleanup())
      await fn(f, t)
    })

  const data = randomBytes(1000)
  const info = infoOf(data)

  await withStore('put, stat and get round-trip', async ({ store }, t) => {
    t.same(await store.put(chunked(data, 100), info), info, 'put returns the digest')
    t.same(await store.stat(info.sha256), info, 'stat gives the length')
    t.same(await readAll(await store.get(info.sha256)), data, 'get gives the bytes back')
  })

  await withStore('put computes the digest when only the length is declared', async ({ store }, t) => {
    t.same(await store.put(chunked(data), { length: data.length }), info)
    t.same(await store.stat(info.sha256), info)
  })

  await withStore('ranged get (RFC 7233 inclusive ranges)', async ({ store }, t) => {
    await store.put(chunked(data), info)
    const range = async (start: number, end: number) => readAll(await store.get(info.sha256, { start, end }))
    t.same(await range(0, 0), data.subarray(0, 1), 'first byte')
    t.same(await range(400, 599), data.subarray(400, 600), 'middle')
    t.same(await range(999, 999), data.subarray(999), 'last byte')
    t.same(await range(990, 5000), data.subarray(990), 'an end past the blob is clamped')
    await t.rejects(store.get(info.sha256, { start: 1000, end: 1000 }), { code: 'BLOB_RANGE_NOT_SATISFIABLE' })
    await t.rejects(store.get(info.sha256, { start: 10, end: 9 }), { code: 'BLOB_BAD_RANGE' })
  })

  await withStore('wrong sha256 is refused and leaves nothing', async ({ store, listStaging }, t) => {
    const wrong = { ...info, sha256: 'f'.repeat(64) }
    const err = await store.put(chunked(data), wrong).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { code: 'BLOB_DIGEST_MISMATCH', kind: 'unprocessable' })
    t.match(err, { details: { expected: wrong, actual: info } }, 'the error says what arrived')
    t.equal(await store.stat(wrong.sha256), undefined, 'nothing under the declared address')
    t.equal(await store.stat(info.sha256), undefined, 'nothing under the actual address')
    t.same(await listStaging(), [], 'no staging leftovers')
  })

  await withStore('wrong length is refused and leaves nothing', async ({ store, listStaging }, t) => {
    // A body one byte short of what was declared: a truncated upload.
    await t.rejects(store.put(chunked(data.subarray(0, 999)), info), { code: 'BLOB_DIGEST_MISMATCH' })
    await t.rejects(store.put(chunked(data), { length: 1001 }), { code: 'BLOB_DIGEST_MISMATCH' })
    t.equal(await store.stat(info.sha256), undefined)
    t.equal(await store.stat(infoOf(data.subarray(0, 999)).sha256), undefined)
    t.same(await listStaging(), [])
  })

  await withStore('a source stream failing midway leaves nothing', async ({ store, listStaging }, t) => {
    const dropped = Object.assign(new Error('client went away'), { code: 'TEST_SOURCE_DROPPED' })
    await t.rejects(store.put(failingAfter(data, 300, dropped), info), { code: 'TEST_SOURCE_DROPPED' }, 'the source error reaches the caller')
    t.equal(await store.stat(info.sha256), undefined)
    t.same(await listStaging(), [])
  })

  await withStore('put is idempotent, also concurrently', async ({ store, listStaging }, t) => {
    t.same(await store.put(chunked(data), info), info)
    t.same(await store.put(chunked(data), info), info, 'storing it again is a no-op')
    const again = await Promise.all([store.put(chunked(data), info), store.put(chunked(data), info)])
    t.same(again, [info, info], 'two writers of the same blob both succeed')
    t.same(await readAll(await store.get(info.sha256)), data)
    t.same(await listStaging(), [])
  })

  await withStore('putFile stores a verified file; consume removes the source', async ({ store, listStaging }, t) => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-putfile-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const kept = join(dir, 'kept')
    await writeFile(kept, data)
    await store.putFile(kept, info)
    t.same(await readAll(await store.get(info.sha256)), data)
    await t.resolves(access(kept), 'without consume the source stays')
    await store.putFile(kept, info)
    t.same(await store.stat(info.sha256), info, 'storing an existing blob again is a no-op')

    const other = randomBytes(333)
    const consumed = join(dir, 'consumed')
    await writeFile(consumed, other)
    await store.putFile(consumed, infoOf(other), { consume: true })
    t.same(await readAll(await store.get(infoOf(other).sha256)), other)
    await t.rejects(access(consumed), { code: 'ENOENT' }, 'with consume the source is gone')
    t.same(await listStaging(), [])
  })

  await withStore('missing blobs', async ({ store }, t) => {
    const missing = 'a'.repeat(64)
    t.equal(await store.stat(missing), undefined, 'stat says absent')
    await t.rejects(store.get(missing), { code: 'BLOB_NOT_FOUND', kind: 'not-found' })
    await t.rejects(store.get(missing, { start: 0, end: 0 }), { code: 'BLOB_NOT_FOUND' })
  })

  await withStore('addresses that are not a sha256 are refused', async ({ store }, t) => {
    for (const bad of ['../../etc/passwd', 'A'.repeat(64), 'abc']) {
      await t.rejects(store.stat(bad), { code: 'BLOB_BAD_DIGEST' }, `stat ${bad}`)
      await t.rejects(store.get(bad), { code: 'BLOB_BAD_DIGEST' }, `get ${bad}`)
      await t.rejects(store.put(chunked(data), { sha256: bad, length: 1000 }), { code: 'BLOB_BAD_DIGEST' })
    }
  })

  await withStore('delete', async ({ store }, t) => {
    await store.put(chunked(data), info)
    await store.delete(info.sha256)
    t.equal(await store.stat(info.sha256), undefined, 'gone from stat')
    await t.rejects(store.get(info.sha256), { code: 'BLOB_NOT_FOUND' }, 'gone from get')
    await t.resolves(store.delete(info.sha256), 'deleting an absent blob is a no-op')
  })

  await withStore('ping', async ({ store }, t) => {
    await t.resolves(store.ping())
  })

  await withStore('presignedGetUrl', async ({ store, presigns }, t) => {
    await store.put(chunked(data), info)
    const url = await store.presignedGetUrl(info.sha256, 60)
    if (!presigns) {
      t.equal(url, undefined, 'no URL: the server streams the blob itself')
      return
    }
    t.type(url, 'string')
    const res = await fetch(url as string)
    t.equal(res.status, 200)
    t.same(Buffer.from(await res.arrayBuffer()), data, 'the URL serves the blob')
  })

  await withStore('an empty blob', async ({ store }, t) => {
    const empty = infoOf(Buffer.alloc(0))
    t.same(await store.put(Readable.from([]), empty), empty)
    t.same(await store.stat(empty.sha256), empty)
    t.same(await readAll(await store.get(empty.sha256)), Buffer.alloc(0))
  })

  await withStore('a 5 MiB blob round-trips, whole and in ranges', async ({ store }, t) => {
    const big = randomBytes(5 * 1024 * 1024)
    const bigInfo = infoOf(big)
    t.same(await store.put(chunked(big, 64 * 1024), bigInfo), bigInfo)
    t.same(infoOf(await readAll(await store.get(bigInfo.sha256))), bigInfo, 'same sha256 read back')
    const mid = { start: 2 * 1024 * 1024 - 7, end: 3 * 1024 * 1024 + 7 }
    const part = await readAll(await store.get(bigInfo.sha256, mid))
    t.ok(part.equals(big.subarray(mid.start, mid.end + 1)), 'a range across chunk boundaries')
  })
}

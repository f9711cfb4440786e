/** FileBlobStore: the BlobStore contract, plus what only a local file store does. */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileBlobStore } from '../../server/adapters/blob/index.js'
import { blobStoreContract, chunked, infoOf, type BlobStoreFixture } from './blob-store.contract.js'

async function makeFileStore(): Promise<BlobStoreFixture & { store: FileBlobStore; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'slipway-blobs-'))
  const store = new FileBlobStore({ root })
  await store.init()
  return {
    store,
    root,
    presigns: false,
    listStaging: () => readdir(join(root, 'tmp')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
}

t.test('contract', async (t) => blobStoreContract(t, makeFileStore))

t.test('layout: <root>/sha256/<2 hex>/<sha256>, readable at path()', async (t) => {
  const f = await makeFileStore()
  t.teardown(() => f.cleanup())
  const data = randomBytes(100)
  const info = await f.store.put(chunked(data))
  t.same(info, infoOf(data), 'no expectation at all: the digest is computed')
  const path = f.store.path(info.sha256)
  t.equal(path, join(f.root, 'sha256', info.sha256.slice(0, 2), info.sha256))
  t.same(await readFile(path), data)
  t.throws(() => f.store.path('../../etc/passwd'), { code: 'BLOB_BAD_DIGEST' })
})

t.test('a declared sha256 alone is checked too', async (t) => {
  const f = await makeFileStore()
  t.teardown(() => f.cleanup())
  const data = randomBytes(100)
  await t.rejects(f.store.put(chunked(data), { sha256: '0'.repeat(64) }), { code: 'BLOB_DIGEST_MISMATCH' })
  t.same(await f.store.put(chunked(data), { sha256: infoOf(data).sha256 }), infoOf(data))
  t.same(await f.listStaging(), [])
})

t.test('putFile links or renames on the same file system, no copy', async (t) => {
  const f = await makeFileStore()
  t.teardown(() => f.cleanup())
  const a = randomBytes(100)
  const linked = join(f.root, 'upload-a')
  await writeFile(linked, a)
  await f.store.putFile(linked, infoOf(a))
  const src = await stat(linked)
  const blob = await stat(f.store.path(infoOf(a).sha256))
  t.equal(blob.ino, src.ino, 'same inode')
  t.equal(blob.nlink, 2, 'a hard link')

  const b = randomBytes(100)
  const moved = join(f.root, 'upload-b')
  await writeFile(moved, b)
  const ino = (await stat(moved)).ino
  await f.store.putFile(moved, infoOf(b), { consume: true })
  t.equal((await stat(f.store.path(infoOf(b).sha256))).ino, ino, 'renamed: same inode')
})

t.test('putFile copies across file systems (EXDEV)', async (t) => {
  // /dev/shm is a tmpfs, a different file system from the temp dir: link and
  // rename fail with EXDEV there. Fail loudly rather than silently test nothing.
  const shm = await mkdtemp('/dev/shm/slipway-xdev-')
  t.teardown(() => rm(shm, { recursive: true, force: true }))
  const f = await makeFileStore()
  t.teardown(() => f.cleanup())
  t.not((await stat(shm)).dev, (await stat(f.root)).dev, 'the source is on another file system')
  const data = randomBytes(4096)
  const src = join(shm, 'upload')
  await writeFile(src, data)
  await f.store.putFile(src, infoOf(data))
  t.same(await readFile(f.store.path(infoOf(data).sha256)), data, 'copied')
  t.same(await readFile(src), data, 'source kept')
  await f.store.putFile(src, infoOf(data), { consume: true })
  await t.rejects(stat(src), { code: 'ENOENT' }, 'consume removes the source even when the blob exists')

  const other = randomBytes(10)
  const src2 = join(shm, 'upload2')
  await writeFile(src2, other)
  await f.store.putFile(src2, infoOf(other), { consume: true })
  t.same(await readFile(f.store.path(infoOf(other).sha256)), other, 'copied, then source removed')
  await t.rejects(stat(src2), { code: 'ENOENT' })
  t.same(await f.listStaging(), [])
})

t.test('init clears staging files left by a crash a day ago, not fresh ones', async (t) => {
  const f = await makeFileStore()
  t.teardown(() => f.cleanup())
  const stale = join(f.root, 'tmp', 'stale')
  const fresh = join(f.root, 'tmp', 'fresh')
  await writeFile(stale, 'x')
  await writeFile(fresh, 'y')
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000)
  await utimes(stale, twoDaysAgo, twoDaysAgo)
  await f.store.init()
  t.same(await f.listStaging(), ['fresh'])
})

t.test('ping fails when the root is gone', async (t) => {
  const f = await makeFileStore()
  await f.cleanup()
  await t.rejects(f.store.ping(), { code: 'DEPENDENCY_UNAVAILABLE', kind: 'unavailable' })
})

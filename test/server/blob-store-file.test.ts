/** FileBlobStore: the BlobStore contract, plus what only a local file store does. */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileBlobStore } from '../../server/adapters/blob/index.js'
import { blobStoreContract, type BlobStoreFixture } from './blob-store.contract.js'

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

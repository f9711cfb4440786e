/**
 * Staged uploads on local disk through tus's FileStore (file mode, or a folder shared
 * by every replica): the tus HTTP handler writes them, the release service reads,
 * commits or removes them through this adapter. Bytes live in `<dir>/<id>`, tus's
 * upload info in `<dir>/<id>.json`.
 */
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Locker } from '@tus/utils'
import type { BlobInfo, BlobStore } from '../../domain/ports/infrastructure.js'
import type { StagedUpload } from '../../domain/ports/upload-area.js'
import { HashingFileStore } from './hashing-file-store.js'
import type { TusUploadArea as TusArea } from './tus-area.js'

export class TusUploadArea implements TusArea {
  readonly store: HashingFileStore
  /** tus's in-process default: one process owns the folder's locks */
  readonly locker: Locker | undefined = undefined

  constructor(
    readonly directory: string,
    /** an unfinished or unbound upload is reclaimed this long after it was created */
    expiryMs: number,
    /** where commit() moves a finished upload (absent: tests that only stage) */
    private readonly blobs?: BlobStore,
  ) {
    this.store = new HashingFileStore({ directory, expirationPeriodInMilliseconds: expiryMs })
  }

  /** Called with the size of every chunk received, as it is received. */
  set onBytes(f: (n: number) => void) {
    this.store.onBytes = f
  }

  async get(id: string): Promise<StagedUpload | undefined> {
    try {
      const u = await this.store.getUpload(id)
      const sha256 = u.size === undefined ? undefined : this.store.digest(id, u.size)
      return { id: u.id, size: u.size, offset: u.offset, ...(sha256 && u.offset === u.size ? { sha256 } : {}) }
    } catch {
      // tus signals a missing upload with its own error objects; all mean "not here"
      return undefined
    }
  }

  async read(id: string): Promise<Readable> {
    return this.store.read(id)
  }

  async commit(id: string, blob: BlobInfo): Promise<void> {
    if (!this.blobs) throw new Error('this upload area was built without a blob store')
    await this.blobs.putFile(join(this.directory, id), blob, { consume: true })
    await this.remove(id)
  }

  async close(): Promise<void> {}

  async remove(id: string): Promise<void> {
    // the bytes may already be gone (consumed by a rename into the blob store)
    await this.store.remove(id).catch(() => this.store.configstore.delete(id).catch(() => {}))
  }

  reclaimExpired(): Promise<number> {
    return this.store.deleteExpired()
  }
}

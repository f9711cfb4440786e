/**
 * Uploads staged in S3 itself (scale-out without a shared folder): tus writes them
 * through S3MultipartStore, locks are shared through Redis when there is one, and a
 * bound upload moves into the blob store by a server-side copy, never through a disk.
 */
import type { Readable } from 'node:stream'
import { blobKey, type S3BlobStore } from '../blob/s3-blob-store.js'
import { copyObjectAnySize } from '../blob/s3-copy.js'
import { translateS3Error } from '../blob/s3-errors.js'
import type { BlobInfo } from '../../domain/ports/infrastructure.js'
import type { MultipartUploadRepository } from '../../domain/ports/repositories.js'
import type { StagedUpload } from '../../domain/ports/upload-area.js'
import type { RedisLocker } from './redis-locker.js'
import { S3MultipartStore } from './s3-multipart-store.js'
import type { TusUploadArea } from './tus-area.js'

export class S3UploadArea implements TusUploadArea {
  readonly store: S3MultipartStore

  constructor(
    private readonly blobs: S3BlobStore,
    private readonly ledger: MultipartUploadRepository,
    opts: { expiryMs: number; maxUploadBytes: number },
    /** shared locks (Redis); without one, tus's in-process locks (a single replica) */
    readonly locker: RedisLocker | undefined,
  ) {
    this.store = new S3MultipartStore({ ...blobs.s3, ledger, expiryMs: opts.expiryMs, maxUploadBytes: opts.maxUploadBytes })
  }

  set onBytes(f: (n: number) => void) {
    this.store.onBytes = f
  }

  async get(id: string): Promise<StagedUpload | undefined> {
    const u = await this.ledger.find(id)
    if (!u) return undefined
    const offset = u.partsLength + u.tailLength
    const sha256 = u.size !== undefined && u.completedAt ? this.store.digest(id, u.size) : undefined
    return { id, size: u.size, offset, ...(sha256 ? { sha256 } : {}) }
  }

  read(id: string): Promise<Readable> {
    return this.store.read(id).catch((e: unknown) => {
      throw translateS3Error(e)
    })
  }

  async commit(id: string, blob: BlobInfo): Promise<void> {
    const u = await this.ledger.find(id)
    if (!u?.completedAt) throw new Error(`upload ${id} is not complete`)
    const { client, bucket } = this.blobs.s3
    // idempotent, like every blob put: an existing blob already holds these bytes
    if (!(await this.blobs.stat(blob.sha256)))
      await copyObjectAnySize(client, bucket, u.objectKey, blobKey(blob.sha256), blob.length).catch((e: unknown) => {
        throw translateS3Error(e)
      })
    await this.store.discard(u)
  }

  async remove(id: string): Promise<void> {
    const u = await this.ledger.find(id)
    if (u) await this.store.discard(u)
  }

  reclaimExpired(): Promise<number> {
    return this.store.deleteExpired()
  }

  async close(): Promise<void> {
    await this.locker?.close()
  }
}

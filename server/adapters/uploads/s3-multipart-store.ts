/**
 * A tus DataStore that writes uploads straight to S3 multipart, for scale-out servers
 * with no shared folder. Every call it makes exists in s3rver too: CreateMultipartUpload,
 * UploadPart, CompleteMultipartUpload, and plain PUT/GET/DELETE of small objects.
 * (@tus/s3-store resumes through ListParts, and minio's own multipart path starts
 * with ListMultipartUploads; s3rver has neither.)
 *
 * State lives in the database ledger, never in this process: each part's ETag (so
 * completion needs no ListParts), bytes in parts, and bytes in the "tail" object
 * (`<key>.tail`: what a PATCH left that does not fill a part, as S3 parts are ≥ 5 MiB
 * except the last). A PATCH on any replica reads the ledger and the tail and carries
 * on. The ledger moves only after S3 confirmed, so a replica killed mid-PATCH leaves
 * an offset that is true, and the client resumes from it. Memory: at most one part
 * buffered per running PATCH.
 *
 * The sha256 runs while the bytes stream, as in HashingFileStore, and is trusted only
 * while it covers exactly the upload's bytes in order in this process; otherwise the
 * release service re-reads the object from S3 (streamed) when it binds the release.
 */
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Client } from 'minio'
import { DataStore, ERRORS, Upload } from '@tus/utils'
import type { MultipartUpload, MultipartUploadRepository } from '../../domain/ports/repositories.js'

/** S3's minimum part size is 5 MiB; 8 MiB keeps the part count low and memory small. */
const MIN_PART_BYTES = 8 * 1024 * 1024
/** S3 allows 10,000 parts; keep a margin. */
const MAX_PARTS = 9_000

export function partSizeFor(size: number): number {
  const mib = 1024 * 1024
  return Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / mib) * mib)
}

interface RunningHash {
  hash: Hash
  offset: number
}

export interface S3MultipartStoreOptions {
  client: Client
  bucket: string
  ledger: MultipartUploadRepository
  /** an unfinished or unbound upload is reclaimed this long after creation */
  expiryMs: number
  /** part size for uploads whose length is deferred (sized for the largest allowed) */
  maxUploadBytes: number
  now?: () => Date
}

export class S3MultipartStore extends DataStore {
  onBytes: (n: number) => void = () => {}
  private readonly running = new Map<string, RunningHash>()
  private readonly s3: Client
  private readonly bucket: string
  private readonly ledger: MultipartUploadRepository
  private readonly now: () => Date

  constructor(private readonly opts: S3MultipartStoreOptions) {
    super()
    this.extensions = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration']
    this.s3 = opts.client
    this.bucket = opts.bucket
    this.ledger = opts.ledger
    this.now = opts.now ?? (() => new Date())
  }

  override async create(upload: Upload): Promise<Upload> {
    const objectKey = `uploads/${upload.id}`
    const s3UploadId = await this.s3.initiateNewMultipartUpload(this.bucket, objectKey, {})
    const createdAt = this.now().toISOString()
    await this.ledger.insert({
      id: upload.id,
      objectKey,
      s3UploadId,
      size: upload.size,
      partSize: partSizeFor(upload.size ?? this.opts.maxUploadBytes),
      partsLength: 0,
      tailLength: 0,
      metadata: upload.metadata ?? {},
      createdAt,
    })
    upload.creation_date = createdAt
    upload.storage = { type: 's3', path: objectKey, bucket: this.bucket }
    return upload
  }

  override async getUpload(id: string): Promise<Upload> {
    const u = await this.ledger.find(id)
    if (!u) throw ERRORS.FILE_NOT_FOUND
    return toTusUpload(u, this.bucket)
  }

  override async declareUploadLength(id: string, size: number): Promise<void> {
    await this.ledger.declareSize(id, size)
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const u = await this.ledger.find(id)
    if (!u) throw ERRORS.FILE_NOT_FOUND
    if (u.partsLength + u.tailLength !== offset || u.completedAt) throw ERRORS.INVALID_OFFSET
    let hash = this.running.get(id)
    this.running.delete(id)
    if (offset === 0) hash = { hash: createHash('sha256'), offset: 0 }
    else if (hash?.offset !== offset) hash = undefined

    let buffered: Buffer[] = u.tailLength > 0 ? [await this.readTail(u)] : []
    let bufferedLength = u.tailLength
    let partsLength = u.partsLength
    let received = 0
    let failure: unknown
    try {
      for await (const chunk of readable as AsyncIterable<Buffer>) {
        this.onBytes(chunk.length)
        hash?.hash.update(chunk)
        received += chunk.length
        buffered.push(chunk)
        bufferedLength += chunk.length
        while (bufferedLength >= u.partSize) {
          const all = Buffer.concat(buffered)
          await this.uploadPart(u, partsLength, all.subarray(0, u.partSize))
          partsLength += u.partSize
          buffered = [all.subarray(u.partSize)]
          bufferedLength -= u.partSize
        }
      }
    } catch (e) {
      // the client went away or the body broke: keep what arrived, report the error
      failure = e
      hash = undefined
    }
    const rest = Buffer.concat(buffered)
    const total = partsLength + rest.length
    if (failure === undefined && u.size !== undefined && total === u.size) {
      // the last part may be short; completing makes the object whole, at its key
      if (rest.length > 0 || partsLength === 0) await this.uploadPart(u, partsLength, rest)
      await this.complete(u)
    } else if (rest.length !== u.tailLength || partsLength !== u.partsLength) {
      // the tail object is only ever replaced by a longer one for the same partsLength, or
      // after a part consumed the old one (tailLength 0 in the ledger): its first tailLength bytes stay right
      if (rest.length > 0) await this.s3.putObject(this.bucket, `${u.objectKey}.tail`, rest, rest.length)
      if (!(await this.ledger.setTail(id, partsLength, rest.length))) throw ERRORS.FILE_WRITE_ERROR
    }
    if (hash) this.running.set(id, { hash: hash.hash, offset: offset + received })
    if (failure !== undefined) throw failure
    return total
  }

  /** sha256 of the whole upload, when this process hashed every byte of it in order. */
  digest(id: string, length: number): string | undefined {
    const h = this.running.get(id)
    return h && h.offset === length ? h.hash.copy().digest('hex') : undefined
  }

  async read(id: string): Promise<Readable> {
    const u = await this.ledger.find(id)
    if (!u?.completedAt) throw ERRORS.FILE_NOT_FOUND
    return this.s3.getObject(this.bucket, u.objectKey)
  }

  override async remove(id: string): Promise<void> {
    this.running.delete(id)
    const u = await this.ledger.find(id)
    if (!u) throw ERRORS.FILE_NOT_FOUND
    await this.discard(u)
  }

  override async deleteExpired(): Promise<number> {
    const before = new Date(this.now().getTime() - this.opts.expiryMs).toISOString()
    const old = await this.ledger.createdBefore(before, 1000)
    for (const u of old) await this.discard(u)
    return old.length
  }

  override getExpiration(): number {
    return this.opts.expiryMs
  }

  /** Forget the upload: its object, tail and unfinished multipart upload are best effort. */
  async discard(u: MultipartUpload): Promise<void> {
    this.running.delete(u.id)
    await this.ledger.delete(u.id)
    await Promise.allSettled([
      this.s3.removeObject(this.bucket, `${u.objectKey}.tail`),
      this.s3.removeObject(this.bucket, u.objectKey),
      // s3rver lacks AbortMultipartUpload; on S3 a lifecycle rule collects what this misses
      u.completedAt ? Promise.resolve() : this.s3.abortMultipartUpload(this.bucket, u.objectKey, u.s3UploadId),
    ])
  }

  private async uploadPart(u: MultipartUpload, fromLength: number, body: Buffer): Promise<void> {
    const partNumber = Math.floor(fromLength / u.partSize) + 1
    const { etag } = await this.s3.uploadPart(
      { bucketName: this.bucket, objectName: u.objectKey, uploadID: u.s3UploadId, partNumber, headers: { 'content-length': body.length } },
      body,
    )
    // a stale writer (its lock lost to another replica) must not move the ledger
    if (!(await this.ledger.addPart(u.id, { partNumber, etag, length: body.length }, fromLength, 0))) throw ERRORS.FILE_WRITE_ERROR
  }

  private async complete(u: MultipartUpload): Promise<void> {
    const parts = await this.ledger.parts(u.id)
    await this.s3.completeMultipartUpload(this.bucket, u.objectKey, u.s3UploadId, parts.map((p) => ({ part: p.partNumber, etag: p.etag })))
    await this.ledger.markCompleted(u.id, this.now().toISOString())
    await this.s3.removeObject(this.bucket, `${u.objectKey}.tail`).catch(() => {})
  }

  private async readTail(u: MultipartUpload): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const c of await this.s3.getObject(this.bucket, `${u.objectKey}.tail`)) chunks.push(c as Buffer)
    return Buffer.concat(chunks).subarray(0, u.tailLength)
  }
}

function toTusUpload(u: MultipartUpload, bucket: string): Upload {
  return new Upload({
    id: u.id,
    ...(u.size !== undefined ? { size: u.size } : {}),
    offset: u.partsLength + u.tailLength,
    metadata: u.metadata,
    creation_date: u.createdAt,
    storage: { type: 's3', path: u.objectKey, bucket },
  })
}

/**
 * Content-addressed blobs in an S3 bucket (AWS S3, MinIO, ...): the scale-out
 * store shared by all replicas.
 *
 * Keys: `blobs/sha256/<sha256>` for committed blobs, `tmp/<uuid>` for staging.
 * An upload goes to a staging key while being hashed; only a verified body is
 * copied (server-side) to its address, so a blob key never holds unverified or
 * partial content. A crashed server can leave staging objects behind: give the
 * bucket a lifecycle rule expiring `tmp/` after a day.
 */
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { Client } from 'minio'
import { DependencyUnavailable, invalid } from '../../domain/errors.js'
import type { BlobInfo, BlobStore, ByteRange } from '../../domain/ports/infrastructure.js'
import { assertRangeShape } from './byte-range.js'
import { assertSha256, verifyDigest } from './digest.js'
import { copyObjectAnySize } from './s3-copy.js'
import { errorCode, isNoSuchKey, S3_DEPENDENCY, translateS3Error } from './s3-errors.js'
import { uploadHashed } from './s3-hashed-upload.js'
import { getRange } from './s3-range-read.js'

export interface S3BlobStoreOptions {
  /** Base URL of the S3 API, e.g. `http://127.0.0.1:9000` or `https://s3.eu-west-1.amazonaws.com`. */
  endPoint: string
  /** Bucket holding the blobs; `init()` creates it when missing. */
  bucket: string
  accessKey: string
  secretKey: string
  /** Bucket region (default `us-east-1`); given explicitly so presigning needs no region lookup. */
  region?: string
  /**
   * Base URL devices use for the same S3 (default `endPoint`). Presigned URLs are signed
   * for this host: SigV4 covers the Host header, so a URL cannot be re-pointed afterwards.
   */
  publicEndPoint?: string
}

const BLOB_PREFIX = 'blobs/sha256/'
const TMP_PREFIX = 'tmp/'

export class S3BlobStore implements BlobStore {
  private readonly client: Client
  /** signs presigned URLs only (no request ever goes out on it) */
  private readonly publicClient: Client
  private readonly bucket: string
  private readonly region: string

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket
    this.region = opts.region ?? 'us-east-1'
    this.client = minioClient(opts.endPoint, opts, this.region)
    this.publicClient = opts.publicEndPoint ? minioClient(opts.publicEndPoint, opts, this.region) : this.client
  }

  /** The minio client on the internal endpoint, for adapters that share this store's bucket (multipart uploads). */
  get s3(): { client: Client; bucket: string } {
    return { client: this.client, bucket: this.bucket }
  }

  async init(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return
      await this.client.makeBucket(this.bucket, this.region)
    } catch (e) {
      // Another replica may have created it between our check and our create.
      const code = errorCode(e)
      if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return
      throw translateS3Error(e)
    }
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    try {
      const { size } = await this.client.statObject(this.bucket, blobKey(sha256))
      return { sha256, length: size }
    } catch (e) {
      if (isNoSuchKey(e)) return undefined
      throw translateS3Error(e, sha256)
    }
  }

  async put(content: Readable, expected?: Partial<BlobInfo>): Promise<BlobInfo> {
    if (expected?.sha256 !== undefined) assertSha256(expected.sha256)
    const tmpKey = TMP_PREFIX + randomUUID()
    let actual: BlobInfo
    try {
      // Already translated: S3 failures arrive as SlipwayErrors, source failures as they are.
      actual = await uploadHashed(this.client, this.bucket, tmpKey, content, expected?.length)
      verifyDigest(expected, actual)
      // Idempotent: an existing blob already holds these bytes, skip the copy.
      if ((await this.stat(actual.sha256)) === undefined) {
        await copyObjectAnySize(this.client, this.bucket, tmpKey, blobKey(actual.sha256), actual.length).catch(
          (e: unknown) => {
            throw translateS3Error(e)
          },
        )
      }
    } catch (e) {
      await this.discardStaging(tmpKey)
      throw e
    }
    // The blob is committed; a staging object that fails to go away is only litter
    // (the lifecycle rule collects it), not a failed put.
    await this.client.removeObject(this.bucket, tmpKey).catch(() => undefined)
    return actual
  }

  /** The caller has verified the file, so it goes straight to its address: an S3 PUT is all or nothing. */
  async putFile(path: string, info: BlobInfo, opts: { consume?: boolean } = {}): Promise<void> {
    try {
      await this.client.fPutObject(this.bucket, blobKey(info.sha256), path)
    } catch (e) {
      throw translateS3Error(e)
    }
    if (opts.consume) await rm(path, { force: true })
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = blobKey(sha256)
    try {
      if (!range) return await this.client.getObject(this.bucket, key)
      assertRangeShape(range)
      // S3 clamps an end past the last byte itself (RFC 7233) and answers
      // InvalidRange for a start past it.
      return await getRange(this.client, this.bucket, key, range)
    } catch (e) {
      throw translateS3Error(e, sha256, range)
    }
  }

  async presignedGetUrl(sha256: string, expirySeconds: number, issuedFor?: string): Promise<string | undefined> {
    // a signed response header makes the URL unique to `issuedFor` (and visible in S3 access logs)
    const headers = issuedFor ? { 'response-content-disposition': `attachment; filename="${issuedFor.replace(/[^A-Za-z0-9._-]/g, '_')}"` } : undefined
    try {
      return await this.publicClient.presignedGetObject(this.bucket, blobKey(sha256), expirySeconds, headers)
    } catch (e) {
      throw translateS3Error(e, sha256)
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      await this.client.removeObject(this.bucket, blobKey(sha256))
    } catch (e) {
      if (!isNoSuchKey(e)) throw translateS3Error(e, sha256)
    }
  }

  async ping(): Promise<void> {
    let exists: boolean
    try {
      exists = await this.client.bucketExists(this.bucket)
    } catch (e) {
      // Whatever stops us reaching the bucket (network, credentials) makes the store unusable.
      throw new DependencyUnavailable(S3_DEPENDENCY, e)
    }
    if (!exists) throw new DependencyUnavailable(`${S3_DEPENDENCY}: bucket ${this.bucket} does not exist`)
  }

  /** Best effort: remove a staging object and any multipart upload left under its key. */
  private async discardStaging(tmpKey: string): Promise<void> {
    await Promise.allSettled([
      this.client.removeObject(this.bucket, tmpKey),
      this.client.removeIncompleteUpload(this.bucket, tmpKey),
    ])
  }
}

function minioClient(endPoint: string, opts: S3BlobStoreOptions, region: string): Client {
  let url: URL
  try {
    url = new URL(endPoint)
  } catch {
    throw invalid('S3_BAD_ENDPOINT', 'the S3 endpoint must be a URL like http://127.0.0.1:9000', { endPoint })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('S3_BAD_ENDPOINT', 'the S3 endpoint must use http or https', { endPoint })
  }
  const useSSL = url.protocol === 'https:'
  return new Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region,
  })
}

export function blobKey(sha256: string): string {
  assertSha256(sha256)
  return BLOB_PREFIX + sha256
}

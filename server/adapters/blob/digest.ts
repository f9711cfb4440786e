/**
 * Hashing while streaming, and the checks every blob store makes before it
 * commits a blob under its address. Shared so the file and S3 stores agree on
 * what "matches" means.
 */
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { BlobDigestMismatch, invalid } from '../../domain/errors.js'
import type { BlobInfo } from '../../domain/ports/infrastructure.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

/**
 * Blob addresses become file names and object keys, so anything but 64 lowercase
 * hex digits is refused here (this also rules out `../` path traversal).
 */
export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) {
    throw invalid('BLOB_BAD_DIGEST', 'a blob address must be 64 lowercase hex digits (sha256)', { sha256 })
  }
}

/** Pass-through stream that computes sha256 and length of what flows through it. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256')
  private length = 0
  private digest: BlobInfo | undefined

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk)
    this.length += chunk.length
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    this.digest = { sha256: this.hash.digest('hex'), length: this.length }
    callback()
  }

  /** Digest and length of the whole stream; only valid once it has ended. */
  result(): BlobInfo {
    if (!this.digest) throw new Error('HashingStream.result() called before the stream ended')
    return this.digest
  }
}

/** Throws BlobDigestMismatch unless `actual` satisfies every field given in `expected`. */
export function verifyDigest(expected: Partial<BlobInfo> | undefined, actual: BlobInfo): void {
  if (!expected) return
  const shaOk = expected.sha256 === undefined || expected.sha256 === actual.sha256
  const lengthOk = expected.length === undefined || expected.length === actual.length
  if (!shaOk || !lengthOk) {
    throw new BlobDigestMismatch(
      { sha256: expected.sha256 ?? actual.sha256, ...(expected.length === undefined ? {} : { length: expected.length }) },
      actual,
    )
  }
}

/**
 * Stream a body into one S3 object while hashing it, and say whose fault a
 * failure was: an error of the *source* (the uploading client went away) must
 * reach the caller as it is, while an error of S3 is a dependency failure.
 */
import type { Client } from 'minio'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { BlobInfo } from '../../domain/ports/infrastructure.js'
import { HashingStream } from './digest.js'
import { translateS3Error } from './s3-errors.js'

/**
 * Upload `content` to `key` and return its sha256 and length. Memory: with
 * `size` known and at most 64 MiB, minio buffers the whole body and sends one
 * PUT; larger known sizes go multipart in 64 MiB parts (one part buffered at a
 * time). An unknown size is sized for the 5 TiB maximum, i.e. 528 MiB parts
 * buffered in memory: callers should always pass the length.
 */
export async function uploadHashed(
  client: Client,
  bucket: string,
  key: string,
  content: Readable,
  size: number | undefined,
): Promise<BlobInfo> {
  const hasher = new HashingStream()
  // Whichever side fails first is the cause; the other side then fails too (with
  // the same error, or a premature close), so record the first.
  let sourceError: unknown
  let uploadError: unknown
  content.on('error', (e) => {
    if (uploadError === undefined) sourceError ??= e
  })
  const upload = client.putObject(bucket, key, hasher, size).catch((e: unknown) => {
    if (sourceError === undefined) uploadError = e
    // Nobody reads the hasher any more: close it, so that pipeline (if still
    // running) stops reading the source. No error argument: the pipeline may
    // already be done and gone, and an 'error' nobody listens to would crash us.
    hasher.destroy()
    throw e
  })
  try {
    await Promise.all([pipeline(content, hasher), upload])
  } catch (e) {
    if (uploadError !== undefined) throw translateS3Error(uploadError)
    throw sourceError ?? e
  }
  return hasher.result()
}

/**
 * A stored image as a local file the builder can read at random: the file store's
 * own blob file (no copy), or for S3 a temp copy streamed in and hashed on the way.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BlobNotFound, DeltaBuildFailure } from '../../domain/errors.js'
import type { BlobStore } from '../../domain/ports/infrastructure.js'
import { FileBlobStore } from '../blob/index.js'

export type ImageRole = 'source' | 'target'

const missing = (role: ImageRole, sha256: string, cause?: unknown) =>
  new DeltaBuildFailure(role === 'source' ? 'DELTA_SOURCE_MISSING' : 'DELTA_TARGET_MISSING', `the ${role} image ${sha256} is not in the blob store`, true, { cause })

export const mismatch = (role: ImageRole, expected: string, actual: string) =>
  new DeltaBuildFailure('DELTA_INPUT_MISMATCH', `the stored ${role} image hashes to ${actual}, not ${expected}`, true)

/** Returns a path to the image; a temp copy lands in `dir` (the caller removes `dir`). */
export async function localImage(blobs: BlobStore, sha256: string, role: ImageRole, dir: string): Promise<string> {
  if (blobs instanceof FileBlobStore) {
    const path = blobs.path(sha256)
    // the builder hashes what it reads; the caller compares that with `sha256`
    await stat(path).catch((e: unknown) => {
      throw missing(role, sha256, e)
    })
    return path
  }
  const path = join(dir, role)
  let content
  try {
    content = await blobs.get(sha256)
  } catch (e) {
    if (e instanceof BlobNotFound) throw missing(role, sha256, e)
    throw e
  }
  const h = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk)
      done(null, chunk)
    },
  })
  await pipeline(content, hashing, createWriteStream(path))
  const actual = h.digest('hex')
  if (actual !== sha256) throw mismatch(role, sha256, actual)
  return path
}

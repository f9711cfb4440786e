/**
 * Translation of minio / network errors into the server's error tree, so that
 * nothing above the adapter ever matches on an S3 error code.
 */
import { BlobNotFound, DependencyUnavailable, SlipwayError } from '../../domain/errors.js'
import { rangeNotSatisfiable } from './byte-range.js'
import type { ByteRange } from '../../domain/ports/infrastructure.js'

/** Socket-level failures: the S3 endpoint cannot be reached at all. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
])

/**
 * S3 answers that mean "the store is not usable right now" rather than "your
 * request is wrong": overload, server faults, and misconfiguration (bad keys, no
 * bucket), which the operator must fix and which a health check should surface.
 */
const UNAVAILABLE_S3_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
])

export const S3_DEPENDENCY = 'blob store (S3)'

export function errorCode(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** True when S3 says the object does not exist (`NoSuchKey` on GET, a bare 404 `NotFound` on HEAD). */
export function isNoSuchKey(e: unknown): boolean {
  const code = errorCode(e)
  return code === 'NoSuchKey' || code === 'NotFound'
}

/**
 * Map an error thrown by the minio client for an operation on blob `sha256`.
 * Errors it does not recognise are returned unchanged (they become 500s).
 */
export function translateS3Error(e: unknown, sha256?: string, range?: ByteRange): unknown {
  if (e instanceof SlipwayError) return e
  const code = errorCode(e)
  if (sha256 !== undefined && isNoSuchKey(e)) return new BlobNotFound(sha256)
  if (sha256 !== undefined && range && code === 'InvalidRange') return rangeNotSatisfiable(sha256, range)
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_S3_CODES.has(code))) {
    return new DependencyUnavailable(S3_DEPENDENCY, e)
  }
  return e
}

/**
 * The one error tree of the server. Every error carries a stable string `code`
 * (clients and tests match on it) and a `kind` that `http/errors.ts` maps to an
 * HTTP status in exactly one place. Adapters translate vendor errors into these.
 * The codes and their kinds are listed in error-codes.ts.
 */
import type { CodeOf } from './error-codes.js'

export type { CodeOf, ErrorCode } from './error-codes.js'

export type ErrorKind =
  | 'invalid' // 400: the request is malformed or fails validation
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not-found' // 404
  | 'conflict' // 409
  | 'too-large' // 413
  | 'unprocessable' // 422: well-formed but the content does not match what was declared
  | 'range' // 416
  | 'rate-limited' // 429: details.retryAfterSeconds becomes Retry-After
  | 'unavailable' // 503: a dependency (db, blob store, queue) is down
  | 'internal' // 500

export class SlipwayError<out K extends ErrorKind = ErrorKind> extends Error {
  constructor(
    readonly kind: K,
    readonly code: CodeOf<K>,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'SlipwayError'
  }
}

export const invalid = (code: CodeOf<'invalid'>, message: string, details?: Record<string, unknown>) =>
  new SlipwayError('invalid', code, message, details)
export const notFound = (code: CodeOf<'not-found'>, message: string, details?: Record<string, unknown>) =>
  new SlipwayError('not-found', code, message, details)
export const conflict = (code: CodeOf<'conflict'>, message: string, details?: Record<string, unknown>) =>
  new SlipwayError('conflict', code, message, details)
export const unprocessable = (code: CodeOf<'unprocessable'>, message: string, details?: Record<string, unknown>) =>
  new SlipwayError('unprocessable', code, message, details)

/** Blob store: the content did not hash to the digest (or length) it was stored under. */
export class BlobDigestMismatch extends SlipwayError {
  constructor(expected: { sha256: string; length?: number }, actual: { sha256: string; length: number }) {
    super('unprocessable', 'BLOB_DIGEST_MISMATCH', 'content does not match its declared sha256 or length', {
      expected,
      actual,
    })
  }
}

export class BlobNotFound extends SlipwayError {
  constructor(sha256: string) {
    super('not-found', 'BLOB_NOT_FOUND', `no blob with sha256 ${sha256}`, { sha256 })
  }
}

/** A dependency (database, blob store, queue) cannot be reached. */
export class DependencyUnavailable extends SlipwayError {
  constructor(what: string, cause?: unknown) {
    super('unavailable', 'DEPENDENCY_UNAVAILABLE', `${what} is unavailable`, { dependency: what }, { cause })
  }
}

/** REDIS_URL is set but nothing answers there: a start refuses rather than queueing jobs nobody runs. */
export class RedisUnreachable extends SlipwayError {
  constructor(url: string, cause?: unknown) {
    const where = url.replace(/\/\/[^@/]*@/, '//***@')
    const why = cause instanceof Error && cause.cause instanceof Error ? `: ${cause.cause.message}` : ''
    super('unavailable', 'REDIS_UNREACHABLE', `Redis at ${where} (REDIS_URL) is unreachable${why}`, { url: where }, { cause })
  }
}

/**
 * A delta build failed. `permanent` failures (missing or altered input, input the
 * builder refuses) are not retried; others (disk, memory, a store or signer outage)
 * retry with backoff until the job's attempts run out.
 */
export class DeltaBuildFailure extends SlipwayError {
  constructor(
    code: CodeOf<'internal'>,
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super('internal', code, message, undefined, options)
    this.name = 'DeltaBuildFailure'
  }
}

/**
 * The one place where errors become HTTP responses. Every 4xx/5xx body has the
 * same shape: { error: { code, message, details? } }.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { TrustError, type TrustErrorCode } from '../../signing/verify/index.js'
import { SlipwayError, type ErrorKind } from '../domain/errors.js'
import { findUnstorableText, unstorableTextError } from '../domain/storable-text.js'

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  range: 416,
  unprocessable: 422,
  'rate-limited': 429,
  unavailable: 503,
  internal: 500,
}

/**
 * Trust failures keep the signing library's code. Metadata a caller sent that does
 * not verify is 422 (well-formed request, content refused); an oversized document
 * 413; a key the server cannot use (HSM down, wrong PIN after a token reset) 503.
 */
function trustStatus(code: TrustErrorCode): number {
  if (code === 'DOC_TOO_LARGE') return 413
  if (code.startsWith('PKCS11_') || code.startsWith('SIGNER_')) return 503
  return 422
}

/** Seconds a caller refused with DATABASE_BUSY is asked to wait. */
export const DATABASE_BUSY_RETRY_SECONDS = 5

/** node-postgres's pool wait timing out, or SQLite's lock wait running out. */
function isDatabaseBusy(e: unknown): boolean {
  if (!(e instanceof Error)) return false
  const code = (e as { code?: unknown }).code
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || /^timeout exceeded when trying to connect$/i.test(e.message)
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

export function toErrorResponse(e: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (e instanceof SlipwayError) {
    const kind: ErrorKind = e.kind
    const headers: Record<string, string> = {}
    if (e.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer'
    if (e.kind === 'range' && typeof e.details?.size === 'number') headers['content-range'] = `bytes */${e.details.size}`
    // RFC 9110 §10.2.3: how long to wait before trying again
    if (e.kind === 'rate-limited' && typeof e.details?.retryAfterSeconds === 'number') headers['retry-after'] = String(e.details.retryAfterSeconds)
    const body: ErrorBody = { error: { code: e.code, message: e.message } }
    if (e.details) body.error.details = e.details
    return { status: STATUS[kind], body, headers }
  }
  if (e instanceof TrustError) {
    const body: ErrorBody = { error: { code: e.code, message: e.message } }
    if (e.details) body.error.details = e.details
    return { status: trustStatus(e.code), body, headers: {} }
  }
  const fe = e as FastifyError
  if (fe.validation) {
    return {
      status: 400,
      headers: {},
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: fe.message,
          details: { issues: fe.validation.map((v) => ({ path: v.instancePath, message: v.message, params: v.params })) },
        },
      },
    }
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, headers: {}, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: fe.message } } }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, headers: {}, body: { error: { code: 'BODY_TOO_LARGE', message: fe.message } } }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own client errors (malformed JSON, empty body, bad content length, bad URL…), under our codes
    const code = fe instanceof SyntaxError ? 'MALFORMED_JSON' : (FASTIFY_CODES[fe.code] ?? 'BAD_REQUEST')
    const body: ErrorBody = { error: { code, message: fe.message } }
    if (!(fe.code in FASTIFY_CODES) && fe.code) body.error.details = { fastifyCode: fe.code }
    return { status: fe.statusCode, headers: {}, body }
  }
  // a saturated database (PostgreSQL pool full past its 5 s wait, SQLite busy past busy_timeout)
  // is transient: 503 with Retry-After, so devices and CI back off instead of seeing a bug
  if (isDatabaseBusy(e))
    return { status: 503, headers: { 'retry-after': String(DATABASE_BUSY_RETRY_SECONDS) }, body: { error: { code: 'DATABASE_BUSY', message: 'the database is busy: try again shortly' } } }
  return { status: 500, headers: {}, body: { error: { code: 'INTERNAL', message: 'internal server error' } } }
}

/** Fastify's error codes for client mistakes → ours (stable across Fastify versions). */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_CONTENT_LENGTH',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'PARAM_TOO_LONG',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
}

function send(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers } = toErrorResponse(error)
  return reply.status(status).headers(headers).send(log(request, error, status, body))
}

function log(request: FastifyRequest, error: unknown, status: number, body: ErrorBody): ErrorBody {
  if (status >= 500) request.log.error({ err: error }, 'request failed')
  else request.log.info({ code: body.error.code, status }, 'request refused')
  return body
}

/**
 * Errors the HTTP parser raises before Fastify has a request (over-long headers, a
 * malformed request line, a timeout): answered on the socket, in the same body shape.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers exceed the allowed size']
        : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1']
  const body = JSON.stringify({ error: { code, message } })
  if (socket.writable)
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`)
  socket.destroy(err)
}

/**
 * Options for Fastify() itself: its router's errors (a URL that does not decode, a path
 * parameter over maxParamLength) and the HTTP parser's go through the same mapping.
 */
export const errorOptions = {
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => send(error, request, reply),
  clientErrorHandler,
}

/**
 * `authFailures` sees every authentication failure (401) and may turn it into a 429
 * when the caller's address has failed too often (http/throttle.ts).
 */
export function registerErrorHandling(app: FastifyInstance, authFailures?: (request: FastifyRequest) => Promise<SlipwayError | undefined>): void {
  // every route, before validation: text the databases cannot store as sent is refused here, once
  app.addHook('preValidation', async (request) => {
    const problem =
      findUnstorableText(request.params, '/params') ?? findUnstorableText(request.query, '/query') ?? findUnstorableText(request.body, '/body')
    if (problem) throw unstorableTextError(problem)
  })
  // and after validation, which may have coerced a huge numeric string to Infinity (ajv lets it through integer and maximum)
  app.addHook('preHandler', async (request) => {
    const problem =
      findUnstorableText(request.params, '/params') ?? findUnstorableText(request.query, '/query') ?? findUnstorableText(request.body, '/body')
    if (problem) throw unstorableTextError(problem)
  })
  app.setErrorHandler(async (error, request, reply) => {
    const throttled = authFailures && error instanceof SlipwayError && error.kind === 'unauthenticated' ? await authFailures(request).catch(() => undefined) : undefined
    return send(throttled ?? error, request, reply)
  })
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  )
}

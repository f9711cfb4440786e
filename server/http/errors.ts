/**
 * The one place where errors become HTTP responses. Every 4xx/5xx body has the
 * same shape: { error: { code, message, details? } }.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { TrustError, type TrustErrorCode } from '../../signing/verify/index.js'
import { SlipwayError, type ErrorKind } from '../domain/errors.js'

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

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

export function toErrorResponse(e: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (e instanceof SlipwayError) {
    const headers: Record<string, string> = {}
    if (e.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer'
    if (e.kind === 'range' && typeof e.details?.size === 'number') headers['content-range'] = `bytes */${e.details.size}`
    // RFC 9110 §10.2.3: how long to wait before trying again
    if (e.kind === 'rate-limited' && typeof e.details?.retryAfterSeconds === 'number') headers['retry-after'] = String(e.details.retryAfterSeconds)
    const body: ErrorBody = { error: { code: e.code, message: e.message } }
    if (e.details) body.error.details = e.details
    return { status: STATUS[e.kind], body, headers }
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
    // Fastify's own client errors: malformed JSON, empty body, bad content length
    const code = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError ? 'MALFORMED_JSON' : (fe.code ?? 'BAD_REQUEST')
    return { status: fe.statusCode, headers: {}, body: { error: { code, message: fe.message } } }
  }
  return { status: 500, headers: {}, body: { error: { code: 'INTERNAL', message: 'internal server error' } } }
}

/**
 * `authFailures` sees every authentication failure (401) and may turn it into a 429
 * when the caller's address has failed too often (http/throttle.ts).
 */
export function registerErrorHandling(app: FastifyInstance, authFailures?: (request: FastifyRequest) => Promise<SlipwayError | undefined>): void {
  app.setErrorHandler(async (error, request, reply) => {
    const throttled = authFailures && error instanceof SlipwayError && error.kind === 'unauthenticated' ? await authFailures(request).catch(() => undefined) : undefined
    const { status, body, headers } = toErrorResponse(throttled ?? error)
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: body.error.code, status }, 'request refused')
    return reply.status(status).headers(headers).send(body)
  })
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  )
}

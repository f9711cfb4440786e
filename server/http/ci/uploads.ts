/**
 * Resumable artifact uploads: the tus 1.0 protocol (creation, termination,
 * expiration) at /v1/uploads, served by @tus/server on top of the staging area.
 * Fastify authenticates, then hands the raw request to tus.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Server as TusServer } from '@tus/server'
import type { Services } from '../../services.js'
import { requireRole } from '../auth.js'
import type { Metrics } from '../../metrics/metrics.js'
import { toErrorResponse } from '../errors.js'

const UPLOADS_PATH = '/v1/uploads'

/** tus answers errors in plain text; give them the API's one error shape. */
function tusErrorBody(status: number, text: string): string {
  const code =
    status === 413 ? 'UPLOAD_TOO_LARGE'
    : status === 404 || status === 410 ? 'UPLOAD_NOT_FOUND'
    : status === 409 ? 'UPLOAD_OFFSET_CONFLICT'
    : status === 412 ? 'TUS_RESUMABLE_REQUIRED'
    : status < 500 ? 'UPLOAD_INVALID'
    : 'INTERNAL'
  return JSON.stringify({ error: { code, message: status < 500 ? text.trim() || 'upload refused' : 'internal server error' } })
}

type TusWrite = (context: unknown, headers: Headers, status: number, body?: string) => Promise<Response>

/**
 * Every tus error goes through its `write()`, including the ones it answers before any
 * hook (412 without Tus-Resumable, 400 for an invalid protocol header): wrap it there,
 * once, so no plain-text error escapes (issue 11).
 */
function jsonErrors(tus: TusServer): void {
  const target = tus as unknown as { write: TusWrite }
  const write = target.write.bind(tus)
  target.write = (context, headers, status, body = '') => {
    // our own answers (a refusal with its CODE, an identical release) are JSON already
    if (body.startsWith('{"')) headers.set('Content-Type', 'application/json; charset=utf-8')
    if (status < 400 || body.startsWith('{"error"')) return write(context, headers, status, body)
    headers.set('Content-Type', 'application/json; charset=utf-8')
    return write(context, headers, status, tusErrorBody(status, body))
  }
}

/**
 * A creation request whose Upload-Metadata carries the signed release metadata (key
 * `release`, the envelope's JSON) gets the push preflight before a byte is accepted:
 * signature, version, provenance policy, an existing release. A refusal answers with
 * the API's error body and status; an identical release answers 200 with it, and no
 * upload is created. tus sends what a hook throws as `{status_code, body}`.
 */
async function refuseBeforeFirstByte(services: Services, release: string | undefined, size: number | undefined): Promise<void> {
  if (release === undefined) return
  let existing
  try {
    ;({ existing } = await services.releases.preflightUpload(release, size))
  } catch (e) {
    const { status, body } = toErrorResponse(e)
    throw { status_code: status, body: JSON.stringify(body) }
  }
  if (existing) throw { status_code: 200, body: JSON.stringify({ existing }) }
}

export const uploadRoutes =
  (services: Services, metrics: Metrics): FastifyPluginAsync =>
  async (app) => {
    const tus = new TusServer({
      path: UPLOADS_PATH,
      datastore: services.uploads.store,
      // S3 mode: shared through Redis, so a PATCH may land on any replica
      ...(services.uploads.locker ? { locker: services.uploads.locker } : {}),
      maxSize: services.config.maxUploadBytes,
      relativeLocation: true,
      respectForwardedHeaders: true,
      onUploadCreate: async (_req, upload) => {
        await refuseBeforeFirstByte(services, upload.metadata?.release ?? undefined, upload.size)
        return {}
      },
    })
    jsonErrors(tus)

    // tus reads the body itself: leave it unparsed
    app.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) => done(null))
    app.addHook('onRequest', requireRole(services.auth, ['ci', 'admin']))

    services.uploads.onBytes = (n) => metrics.uploadBytes.inc(n)

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack()
      await tus.handle(request.raw, reply.raw)
      metrics.httpDuration.observe(
        { method: request.method, route: `${UPLOADS_PATH}/*`, status: String(reply.raw.statusCode) },
        reply.elapsedTime / 1000,
      )
    }

    const methods = ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'] as const
    const schema = { tags: ['ci'], summary: 'tus 1.0 resumable upload endpoint (creation, termination, expiration)' }
    app.route({ method: [...methods], url: UPLOADS_PATH, handler, schema })
    app.route({ method: [...methods], url: `${UPLOADS_PATH}/:id`, handler, schema })
  }

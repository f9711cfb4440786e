/**
 * Blob download by content address with HTTP Range (RFC 7233): strong ETag (the
 * sha256), If-None-Match, If-Range, 206/416, streamed without buffering. With S3
 * the server redirects to a short-lived presigned URL unless configured to proxy.
 *
 * A device reaches only the blobs its current or previous assignment names (anything
 * else is the same 404 as a missing blob) and every byte it fetches counts against its
 * download budget (DownloadPolicy). Operators and CI reach every blob.
 *
 * In file mode behind nginx (SLIPWAY_ACCEL_REDIRECT_PREFIX) it authorizes, then hands
 * the file to nginx with X-Accel-Redirect.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { BlobNotFound } from '../../domain/errors.js'
import { isBudgetExceeded, type GrantedBlob } from '../../domain/devices/download-policy.js'
import type { ByteRange } from '../../domain/ports/infrastructure.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, deviceOf, principalOf, requireRoleOrDevice } from '../auth.js'
import type { Metrics } from '../../metrics/metrics.js'
import { parseRange } from '../range.js'
import { errors } from '../schemas.js'

interface Plan {
  status: 200 | 206 | 304
  range?: ByteRange
}

export const blobRoutes =
  (services: Services, metrics: Metrics): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { blobs, config, downloads } = services

    /** For a device: the blob if its assignments name it (else the missing-blob 404), before the store is asked. */
    const granted = async (request: FastifyRequest, sha256: string): Promise<GrantedBlob | undefined> => {
      const p = principalOf(request)
      return p.kind === 'device' ? downloads.allowed(p.device, sha256) : undefined
    }

    /** Counts a device's bytes before they go out; 429 past its budget (and the metric). */
    const reserve = async (request: FastifyRequest, grant: GrantedBlob, bytes: number) => {
      try {
        return await downloads.reserve(deviceOf(request), grant, bytes)
      } catch (e) {
        if (isBudgetExceeded(e)) metrics.downloadBudgetExceeded.inc()
        throw e
      }
    }

    /** Headers and status for a request; throws 404/416. Shared by GET and HEAD. */
    const plan = async (request: FastifyRequest, reply: FastifyReply, sha256: string): Promise<Plan & { size: number }> => {
      const stat = await blobs.stat(sha256)
      if (!stat) throw new BlobNotFound(sha256)
      const etag = `"${sha256}"`
      reply.header('etag', etag).header('accept-ranges', 'bytes').header('cache-control', 'private, max-age=31536000, immutable')
      const inm = request.headers['if-none-match']
      if (inm && (inm === '*' || inm.split(',').some((t) => t.trim() === etag))) return { status: 304, size: stat.length }
      // If-Range (RFC 7233 §3.2): serve the range only if the client's validator still matches
      const ifRange = request.headers['if-range']
      const range = ifRange !== undefined && ifRange !== etag ? undefined : parseRange(request.headers.range, stat.length)
      if (!range) return { status: 200, size: stat.length }
      reply.header('content-range', `bytes ${range.start}-${range.end}/${stat.length}`)
      return { status: 206, range, size: stat.length }
    }

    const Params = Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) })
    const schema = { tags: ['device', 'management'], params: Params, response: errors(400, 401, 403, 404, 416, 429) }
    const preValidation = requireRoleOrDevice(services.auth, services.deviceAuth, ALL_ROLES)

    app.get('/v1/blobs/:sha256', { preValidation, schema, exposeHeadRoute: false }, async (request, reply) => {
      const { sha256 } = request.params
      const grant = await granted(request, sha256)
      if (config.s3 && !config.s3.proxyDownloads) {
        // a device's URL is its own: signed for its device id and assignment, briefly valid
        const p = principalOf(request)
        const url =
          p.kind === 'device'
            ? await blobs.presignedGetUrl(sha256, config.boundary.devicePresignSeconds, `${p.deviceId}-a${p.device.assignment?.counter ?? 0}-${sha256.slice(0, 12)}`)
            : await blobs.presignedGetUrl(sha256, config.s3.presignSeconds)
        if (url) {
          if (!(await blobs.stat(sha256))) throw new BlobNotFound(sha256)
          // the server never sees these bytes: count what the request asks for
          if (grant) {
            const range = parseRange(request.headers.range, grant.length)
            await reserve(request, grant, range ? range.end - range.start + 1 : grant.length)
          }
          return reply.redirect(url, 302)
        }
      }
      const p = await plan(request, reply, sha256)
      if (p.status === 304) return reply.status(304).send()
      if (config.accelRedirectPrefix && blobs.relativePath) {
        // nginx sends the file itself (sendfile) and applies the Range; this server only authorized
        metrics.downloadBytes.inc(p.range ? p.range.end - p.range.start + 1 : p.size)
        reply.removeHeader('content-range')
        return reply
          .status(200)
          .header('content-type', 'application/octet-stream')
          .header('x-accel-redirect', config.accelRedirectPrefix + blobs.relativePath(sha256))
          .send()
      }
      const length = p.range ? p.range.end - p.range.start + 1 : p.size
      const counted = grant && (await reserve(request, grant, length))
      // a store failure sent nothing: it costs the device nothing either
      const body = await blobs.get(sha256, p.range).catch(async (e: unknown) => {
        await counted?.settle(0)
        throw e
      })
      metrics.downloadBytes.inc(length)
      if (counted) {
        // what the socket wrote for this response (headers included) corrects the reservation
        // down when the client went away early, so an interrupted download resumed with
        // Range costs its bytes once
        const socket = request.raw.socket
        const start = socket.bytesWritten
        reply.raw.once('close', () => {
          const sent = reply.raw.writableFinished ? length : Math.min(length, socket.bytesWritten - start)
          counted.settle(sent).catch((e: unknown) => request.log.warn({ err: e }, 'download ledger not corrected'))
        })
      }
      return reply.status(p.status).header('content-type', 'application/octet-stream').header('content-length', length).send(body)
    })

    app.head('/v1/blobs/:sha256', { preValidation, schema }, async (request, reply) => {
      await granted(request, request.params.sha256)
      const p = await plan(request, reply, request.params.sha256)
      const length = p.range ? p.range.end - p.range.start + 1 : p.size
      return reply.status(p.status).header('content-type', 'application/octet-stream').header('content-length', length).send()
    })
  }

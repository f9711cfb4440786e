/**
 * buildApp(services): the Fastify application, separate from listen() so tests
 * build it on real adapters. One plugin per caller; one error handler.
 */
import { readFileSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Services } from '../services.js'
import { blobRoutes } from './device/blobs.js'
import { deltaRoutes } from './ci/deltas.js'
import { errorOptions, registerErrorHandling } from './errors.js'
import type { Metrics } from '../metrics/metrics.js'
import { opsRoutes } from './ops/ops.js'
import { provenanceRoutes } from './ci/provenance.js'
import { releaseRoutes } from './ci/releases.js'
import { ErrorBody } from './schemas.js'
import { tokenRoutes } from './management/tokens.js'
import { trustRoutes } from './device/trust.js'
import { uploadRoutes } from './ci/uploads.js'
import { deviceRoutes } from './device/device.js'
import { fleetRoutes } from './management/fleet.js'
import { deviceManagementRoutes } from './management/device-management.js'
import { consoleRoutes } from './management/console.js'
import { rolloutRoutes } from './management/rollouts.js'
import { quarantineRoutes } from './management/quarantine.js'
import { registerThrottle } from './throttle.js'

/** Request durations by route, into the process's metrics. */
function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
}

export interface AppOptions {
  /** false for no logs; else pino options (level defaults to config, stream to stdout) */
  logger?: false | { level?: string; stream?: NodeJS.WritableStream }
}

/**
 * With TLS_CERT_FILE the server terminates TLS itself and asks every client for a
 * certificate (the device CA by default) without requiring one: enrollment and the
 * management API work without, device routes check it in DeviceAuthService.
 */
function httpsOptions(services: Services) {
  const tls = services.config.identity.tls
  if (!tls) return undefined
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    ca: tls.clientCaFile ? readFileSync(tls.clientCaFile) : services.identity.caCertificate,
    requestCert: true,
    rejectUnauthorized: false,
  }
}

export async function buildApp(services: Services, opts: AppOptions = {}): Promise<FastifyInstance & { metrics: Metrics }> {
  const https = httpsOptions(services)
  const app = Fastify({
    ...(https ? { https } : {}),
    logger:
      opts.logger === false
        ? false
        : {
            level: opts.logger?.level ?? services.config.logLevel,
            ...(opts.logger?.stream ? { stream: opts.logger.stream } : {}),
            // never log credentials, whatever a future serializer adds
            redact: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'req.headers.signature', '*.token', 'token'],
          },
    // JSON bodies are metadata, never artifacts (those go through tus)
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    ...errorOptions,
  })
  const { metrics } = services
  registerErrorHandling(app, await registerThrottle(app, services))
  // JSON bodies keep their bytes: a device's Content-Digest (RFC 9530) covers exactly what was sent
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer
    parseJson(request, (body as Buffer).toString('utf8'), done)
  })
  observeRequests(app, metrics)
  app.addSchema(ErrorBody)

  await app.register(swagger, {
    openapi: {
      info: { title: 'Slipway', version: '0.1.0', description: 'Signed OTA updates and rollouts for edge Linux fleets' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(opsRoutes(services, metrics))
  await app.register(tokenRoutes(services))
  await app.register(releaseRoutes(services))
  await app.register(provenanceRoutes(services))
  await app.register(deltaRoutes(services))
  await app.register(uploadRoutes(services, metrics))
  await app.register(blobRoutes(services, metrics))
  await app.register(trustRoutes(services))
  await app.register(deviceRoutes(services, metrics.polls))
  await app.register(rolloutRoutes(services))
  await app.register(fleetRoutes(services))
  await app.register(quarantineRoutes(services))
  await app.register(deviceManagementRoutes(services))
  await app.register(consoleRoutes(services))
  return Object.assign(app as unknown as FastifyInstance, { metrics })
}

/**
 * buildApp(services): the Fastify application, separate from listen() so tests
 * build it on real adapters. One plugin per caller; one error handler.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Services } from '../services.js'
import { blobRoutes } from './blobs.js'
import { deltaRoutes } from './deltas.js'
import { errorOptions, registerErrorHandling } from './errors.js'
import type { Metrics } from '../metrics/metrics.js'
import { opsRoutes } from './ops.js'
import { provenanceRoutes } from './provenance.js'
import { releaseRoutes } from './releases.js'
import { ErrorBody } from './schemas.js'
import { tokenRoutes } from './tokens.js'
import { trustRoutes } from './trust.js'
import { uploadRoutes } from './uploads.js'
import { deviceRoutes } from './device.js'
import { fleetRoutes } from './fleet.js'
import { deviceManagementRoutes } from './device-management.js'
import { consoleRoutes } from './console.js'
import { rolloutRoutes } from './rollouts.js'
import { quarantineRoutes } from './quarantine.js'
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

export async function buildApp(services: Services, opts: AppOptions = {}): Promise<FastifyInstance & { metrics: Metrics }> {
  const app = Fastify({
    logger:
      opts.logger === false
        ? false
        : {
            level: opts.logger?.level ?? services.config.logLevel,
            ...(opts.logger?.stream ? { stream: opts.logger.stream } : {}),
            // never log credentials, whatever a future serializer adds
            redact: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.token', 'token'],
          },
    // JSON bodies are metadata, never artifacts (those go through tus)
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    ...errorOptions,
  })
  const { metrics } = services
  registerErrorHandling(app, await registerThrottle(app, services))
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

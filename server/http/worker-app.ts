/**
 * The `slipway worker`'s own small HTTP surface on WORKER_PORT: /healthz, /readyz and
 * /metrics (delta builds, job queue, process), the same ops routes as the server's, so
 * one scrape config and one probe serve both.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Services } from '../services.js'
import { registerErrorHandling } from './errors.js'
import { opsRoutes } from './ops/ops.js'
import { ErrorBody } from './schemas.js'

export async function buildWorkerApp(services: Services, logger: { level: string } | false): Promise<FastifyInstance> {
  const app = Fastify({ logger, return503OnClosing: true })
  registerErrorHandling(app)
  app.addSchema(ErrorBody)
  await app.register(opsRoutes(services, services.metrics))
  return app
}

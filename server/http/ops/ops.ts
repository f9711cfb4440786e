/** Ops endpoints, unauthenticated and cheap: liveness, readiness, Prometheus metrics. */
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Services } from '../../services.js'
import type { Metrics } from '../../metrics/metrics.js'
import { errors } from '../schemas.js'

const Check = Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) })

export const opsRoutes =
  (services: Services, metrics: Metrics): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', { schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
      status: 'ok' as const,
    }))

    app.get(
      '/readyz',
      {
        schema: {
          tags: ['ops'],
          response: {
            200: Type.Object({ ready: Type.Boolean(), checks: Type.Record(Type.String(), Check) }),
            503: Type.Object({ ready: Type.Boolean(), checks: Type.Record(Type.String(), Check) }),
          },
        },
      },
      async (_req, reply) => {
        const probe = async (f: () => Promise<void>) => {
          try {
            await f()
            return { ok: true }
          } catch (e) {
            return { ok: false, error: (e as Error).message }
          }
        }
        const [database, blobs, queue] = await Promise.all([
          probe(() => services.repos.ping()),
          probe(() => services.blobs.ping()),
          probe(() => services.queue.ping()),
        ])
        const checks = { database, blobs, queue }
        const ready = Object.values(checks).every((c) => c.ok)
        return reply.status(ready ? 200 : 503).send({ ready, checks })
      },
    )

    app.get('/metrics', { schema: { tags: ['ops'], response: { ...errors(500) } } }, async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType)
      return metrics.registry.metrics()
    })
  }

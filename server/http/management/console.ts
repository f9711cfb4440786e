/**
 * The operator console: static assets at /ui (Preact + htm, no build step), and the
 * routes only the console needs: who am I, a rollout's failure-rate series, and
 * Server-Sent Events that say when a topic changed (the page then refetches).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ServerResponse } from 'node:http'
import { failureSeries } from '../../domain/rollouts/failure-series.js'
import type { Topic } from '../../domain/live-changes.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, principalOf, requireRole } from '../auth.js'
import { errors } from '../schemas.js'

const PUBLIC_DIR = fileURLToPath(new URL('../../console/public/', import.meta.url))
// htm's export map names no file of preact/ for require(), and import.meta.resolve
// deadlocks under tsx's registered loader (slipway start): go from the package entry
const VENDOR_DIR = join(dirname(createRequire(import.meta.url).resolve('htm')), '..', 'preact')

/** The console's pages fetch only from this origin; the token lives in sessionStorage, so no inline script may run. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const SeriesPoint = Type.Object({ at: Type.String(), healthy: Type.Integer(), failed: Type.Integer(), rate: Type.Number(), lower: Type.Number(), upper: Type.Number() })

export const consoleRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, rollouts, repos, live } = services
    const read = requireRole(auth, ALL_ROLES)

    await app.register(fastifyStatic, {
      root: PUBLIC_DIR,
      prefix: '/ui/',
      index: 'index.html',
      setHeaders: (reply) => {
        reply.header('content-security-policy', CSP)
        reply.header('x-content-type-options', 'nosniff')
        reply.header('referrer-policy', 'no-referrer')
      },
    })
    await app.register(fastifyStatic, { root: VENDOR_DIR, prefix: '/ui/vendor/', decorateReply: false, allowedPath: (p: string) => p === '/standalone.module.js' })
    app.get('/ui', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/'))

    app.get(
      '/v1/whoami',
      {
        onRequest: read,
        schema: {
          tags: ['console'],
          summary: "The calling token's role (the console shows actions only to operator and admin)",
          response: { 200: Type.Object({ tokenId: Type.String(), role: Type.String(), canAct: Type.Boolean() }), ...errors(401, 403) },
        },
      },
      async (request) => {
        const p = principalOf(request)
        if (p.kind !== 'token') throw new Error('unreachable: devices are not in ALL_ROLES')
        return { tokenId: p.tokenId, role: p.role, canAct: p.role === 'operator' || p.role === 'admin' }
      },
    )

    app.get(
      '/v1/rollouts/:id/series',
      {
        onRequest: read,
        schema: {
          tags: ['rollouts'],
          summary: 'Failure rate over time with its Wilson confidence band (each decided device counted from its newest report)',
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Type.Object({ confidence: Type.Number(), maxFailureRate: Type.Number(), points: Type.Array(SeriesPoint) }), ...errors(401, 403, 404) },
        },
      },
      async (request) => {
        const r = await rollouts.get(request.params.id)
        return { confidence: r.gate.confidence, maxFailureRate: r.gate.maxFailureRate, points: failureSeries(await repos.fleet.members.decidedTimeline(r.id), r.gate.confidence) }
      },
    )

    const open = new Set<ServerResponse>()
    app.addHook('preClose', async () => {
      for (const res of open) res.end()
    })

    app.get(
      '/v1/events',
      {
        onRequest: read,
        schema: {
          tags: ['console'],
          summary: 'Server-Sent Events: `change` whenever the topic changes (rollout:<id> or fleet); refetch on each',
          querystring: Type.Object({ topic: Type.String({ pattern: '^(fleet|rollout:[A-Za-z0-9-]{1,64})$' }) }, { additionalProperties: false }),
          response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const topic = request.query.topic as Topic
        reply.hijack()
        const res = reply.raw
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
        res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ topic })}\n\n`)
        open.add(res)
        const stop = live.watch(topic, () => res.write(`event: change\ndata: ${JSON.stringify({ topic, at: new Date().toISOString() })}\n\n`))
        // a comment now and then keeps proxies from closing an idle stream
        const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
        beat.unref()
        res.on('close', () => {
          stop()
          clearInterval(beat)
          open.delete(res)
        })
      },
    )
  }

/**
 * Throttling (issue 10 §5) with @fastify/rate-limit: an in-process store when embedded,
 * the Redis store when scaled out, so every replica shares one count.
 *
 * - Failed authentication per source address (API tokens, device requests, enrollment
 *   tokens): every 401 is counted; past the limit the failure is answered 429 with
 *   Retry-After instead. Only failures are counted and a credential that verifies is
 *   never refused, so a valid caller — even one behind the same NAT as the attacker —
 *   is never slowed by someone else's failures, and a valid request costs the limiter
 *   nothing at all.
 * - Enrollment per enrollment token: every attempt with the same token counts, so a
 *   leaked token cannot enroll a swarm of fake devices faster than the limit.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { BoundaryConfig } from '../config.js'
import { SlipwayError, type CodeOf } from '../domain/errors.js'
import type { Services } from '../services.js'

const MINUTE_MS = 60_000

/** Decides what an authentication failure becomes; undefined keeps the 401. */
export type AuthFailureThrottle = (request: FastifyRequest) => Promise<SlipwayError | undefined>

const tooMany = (code: CodeOf<'rate-limited'>, message: string, retryAfterSeconds: number) =>
  new SlipwayError('rate-limited', code, message, { retryAfterSeconds: Math.max(1, retryAfterSeconds) })

/** Registers the plugin (no global limit) and returns the auth-failure throttle; call before any route plugin. */
export async function registerThrottle(app: FastifyInstance, services: Pick<Services, 'config' | 'rateLimitRedis'>): Promise<AuthFailureThrottle> {
  const { boundary, queuePrefix } = services.config
  // no limits configured: no plugin at all (and bench:poll --limiter's baseline)
  if (boundary.authFailuresPerMinute === 0 && boundary.enrollmentsPerTokenPerMinute === 0) return async () => undefined
  await app.register(rateLimit, {
    global: false,
    ...(services.rateLimitRedis ? { redis: services.rateLimitRedis, nameSpace: `${queuePrefix}:rate-limit:` } : {}),
    // Redis away: let the request through rather than lock everyone out
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => tooMany('RATE_LIMITED', `too many requests: retry in ${ctx.after}`, Math.ceil(ctx.ttl / 1000)),
  })
  if (boundary.authFailuresPerMinute === 0) return async () => undefined
  const failures = app.createRateLimit({ max: boundary.authFailuresPerMinute, timeWindow: MINUTE_MS, keyGenerator: (req) => `auth-failures:${req.ip}` })
  return async (request) => {
    const r = await failures(request)
    if (r.isAllowed || !r.isExceeded) return undefined
    return tooMany('AUTH_RATE_LIMITED', `too many failed authentications from this address: retry in ${r.ttlInSeconds} s`, r.ttlInSeconds)
  }
}

/** Route config of POST /v1/device/enroll: a limit per enrollment token (false: none). */
export function enrollmentRateLimit(boundary: BoundaryConfig) {
  if (boundary.enrollmentsPerTokenPerMinute === 0) return false as const
  return {
    max: boundary.enrollmentsPerTokenPerMinute,
    timeWindow: MINUTE_MS,
    // after validation, so the token is in the body; keyed by its hash, never the secret
    hook: 'preHandler' as const,
    keyGenerator: (req: FastifyRequest) => `enroll:${createHash('sha256').update(String((req.body as { enrollmentToken?: unknown }).enrollmentToken)).digest('hex').slice(0, 32)}`,
    errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) =>
      tooMany('ENROLLMENT_RATE_LIMITED', `too many enrollments with this enrollment token: retry in ${ctx.after}`, Math.ceil(ctx.ttl / 1000)),
  }
}

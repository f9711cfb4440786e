/**
 * The Redis connection behind the rate limits when scaled out: every replica counts in
 * the same keys (`<queue prefix>:rate-limit:…`), so an attacker spreading a burst over
 * replicas meets one limit. Commands fail fast instead of queueing while Redis is away:
 * the limiter then lets the request through (skipOnError) rather than stall logins.
 */
import { Redis } from 'ioredis'
import { parseRedisUrl } from '../queue/redis-connection.js'

export type RateLimitRedis = Redis

export function openRateLimitRedis(url: string): RateLimitRedis {
  const client = new Redis({ ...parseRedisUrl(url), lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000, enableOfflineQueue: true })
  // failures surface as rejected commands (skipped by the limiter); an unheard 'error' event would crash
  client.on('error', () => undefined)
  return client
}

/**
 * Redis connection settings for the BullMQ adapter. BullMQ gets connection OPTIONS,
 * never a shared ioredis instance: with a shared instance `close()` leaves the
 * socket open and the process never exits (PITFALLS.md).
 */
import { Redis } from 'ioredis'
import { DependencyUnavailable, invalid } from '../../domain/errors.js'

export interface RedisConnectionOptions {
  host: string
  port: number
  db?: number
  username?: string
  password?: string
  /** rediss:// */
  tls?: Record<string, never>
}

/** How long a health check or key scan waits for Redis, in milliseconds. */
const PROBE_TIMEOUT_MS = 1000

/** `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS. */
export function parseRedisUrl(url: string): RedisConnectionOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalid('INVALID_REDIS_URL', 'the Redis URL cannot be parsed', { url: redact(url) })
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalid('INVALID_REDIS_URL', 'the Redis URL must start with redis:// or rediss://', { url: redact(url) })
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined
  if (db !== undefined && !Number.isInteger(db)) {
    throw invalid('INVALID_REDIS_URL', 'the Redis URL path must be a database number', { url: redact(url) })
  }
  return {
    // URL keeps the brackets of an IPv6 host; ioredis wants the bare address.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(db !== undefined && { db }),
    ...(parsed.username && { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password && { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' && { tls: {} }),
  }
}

/**
 * Run `fn` on a short-lived client that fails fast: one connect attempt with a short
 * timeout and no offline queue, so a health check answers within about a second
 * instead of waiting on BullMQ's reconnect-forever connections.
 */
export async function withProbeClient<R>(conn: RedisConnectionOptions, fn: (client: Redis) => Promise<R>): Promise<R> {
  const client = new Redis({
    ...conn,
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  // Failures surface through the rejected promises below; an unheard 'error' event would crash.
  client.on('error', () => undefined)
  try {
    await client.connect()
    return await fn(client)
  } catch (err) {
    throw new DependencyUnavailable('job queue (redis)', err)
  } finally {
    client.disconnect()
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

/**
 * Where message-signature nonces are remembered. A replayed signature must be refused
 * by every replica, so with REDIS_URL (scaled out) the store is Redis: one `SET NX EX`
 * per signed request, atomic across replicas, expiring on its own. Embedded (one
 * process, SQLite) it is a map in memory. Not the database: a write per request on the
 * poll path would cost more than the whole poll. Auto-pipelining sends the claims of
 * concurrent polls made in one event-loop turn as one write to Redis.
 */
import { Redis } from 'ioredis'
import { DependencyUnavailable } from '../../domain/errors.js'
import type { NonceStore } from '../../domain/ports/device-identity.js'
import { parseRedisUrl } from '../queue/redis-connection.js'

export class InProcessNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>()
  #sweepAt = 0

  constructor(private readonly now: () => number = Date.now) {}

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    const now = this.now()
    if (now >= this.#sweepAt) {
      for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k)
      this.#sweepAt = now + 10_000
    }
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return false
    this.#seen.set(key, now + ttlSeconds * 1000)
    return true
  }
}

export class RedisNonceStore implements NonceStore {
  readonly #redis: Redis

  constructor(url: string, private readonly prefix: string) {
    this.#redis = new Redis({ ...parseRedisUrl(url), maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false, enableAutoPipelining: true })
    this.#redis.on('error', () => undefined) // surfaces as a failed claim below
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    try {
      return (await this.#redis.set(`${this.prefix}:nonce:${key}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK'
    } catch (e) {
      // fail closed: without the store a replay could not be told from a first use
      throw new DependencyUnavailable('nonce store (redis)', e)
    }
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }
}

/**
 * tus upload locks shared through Redis, so that a PATCH may land on any replica: the
 * same contract as @tus/server's MemoryLocker, across processes.
 *
 * A lock is a key (SET NX PX) holding a random token, renewed while held, so a replica
 * killed with the lock frees it within LOCK_TTL_MS. A request that finds the lock taken
 * publishes a release request on the upload's channel; the holder's request is then
 * cancelled (tus ends its body stream, the store persists what it received, the lock
 * is released), as tus asks of a lock ("prevent prolonged lock retention": a client
 * that resumes after a half-open connection must not wait for it to time out).
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils'
import { parseRedisUrl } from '../queue/redis-connection.js'

/** a held lock outlives a dead holder by at most this long */
const LOCK_TTL_MS = 10_000
const RENEW_EVERY_MS = 3_000
const RETRY_MS = 100

/** release only our own lock: compare the token, then delete (atomically) */
const UNLOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`

export class RedisLocker implements Locker {
  readonly redis: Redis
  private readonly sub: Redis
  /** release requests for the locks this process holds, by channel */
  private readonly holders = new Map<string, RequestRelease>()

  constructor(
    url: string,
    private readonly prefix: string,
    /** how long a request waits for a lock before 500 ERR_LOCK_TIMEOUT */
    readonly acquireTimeoutMs = 30_000,
  ) {
    const opts = { ...parseRedisUrl(url), maxRetriesPerRequest: 3, lazyConnect: false }
    this.redis = new Redis(opts)
    this.sub = new Redis(opts)
    this.redis.on('error', () => {})
    this.sub.on('error', () => {})
    this.sub.on('message', (channel: string) => void this.holders.get(channel)?.())
  }

  newLock(id: string): Lock {
    return new RedisLock(this, `${this.prefix}:upload-lock:${id}`)
  }

  /** @internal */
  async hold(channel: string, release: RequestRelease): Promise<void> {
    this.holders.set(channel, release)
    await this.sub.subscribe(channel)
  }

  /** @internal */
  async letGo(channel: string): Promise<void> {
    this.holders.delete(channel)
    await this.sub.unsubscribe(channel).catch(() => {})
  }

  async close(): Promise<void> {
    this.sub.disconnect()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

class RedisLock implements Lock {
  private token?: string
  private renew?: NodeJS.Timeout

  constructor(
    private readonly locker: RedisLocker,
    private readonly key: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const token = randomBytes(16).toString('hex')
    const deadline = Date.now() + this.locker.acquireTimeoutMs
    const channel = `${this.key}:release`
    let asked = false
    for (;;) {
      if (signal.aborted) throw ERRORS.ABORTED
      if ((await this.locker.redis.set(this.key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break
      // ask the holder (on whichever replica) once to let go, then wait for it
      if (!asked) await this.locker.redis.publish(channel, 'release')
      asked = true
      if (Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT
      await new Promise((r) => setTimeout(r, RETRY_MS))
    }
    this.token = token
    this.renew = setInterval(() => {
      this.locker.redis.eval(RENEW, 1, this.key, token, LOCK_TTL_MS).catch(() => {})
    }, RENEW_EVERY_MS)
    this.renew.unref()
    await this.locker.hold(channel, requestRelease)
  }

  async unlock(): Promise<void> {
    if (this.renew) clearInterval(this.renew)
    await this.locker.letGo(`${this.key}:release`)
    if (this.token) await this.locker.redis.eval(UNLOCK, 1, this.key, this.token)
    this.token = undefined
  }
}

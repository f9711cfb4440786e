/**
 * The scale-out ChangeBus on Redis pub/sub (ioredis): one connection publishes, one
 * (opened on the first subscribe) listens; channels live under the deployment's key
 * prefix so deployments sharing a Redis do not hear each other. Pub/sub is at most
 * once: a message published while a subscriber reconnects is lost, hence the caches'
 * expiry fallback (ports.ts).
 */
import { Redis } from 'ioredis'
import { RESYNC, type ChangeBus, type ChangeHandler } from '../../domain/ports/infrastructure.js'
import { DependencyUnavailable } from '../../domain/errors.js'
import { parseRedisUrl, type RedisConnectionOptions } from '../queue/redis-connection.js'
import { deliver } from './in-process-bus.js'

export interface RedisChangeBusOptions {
  /** redis://[user[:password]@]host[:port][/db] */
  url: string
  /** channel namespace (default "slipway"), the queue prefix of the deployment */
  prefix?: string
  /** connection errors; ioredis reconnects by itself */
  onError?: (err: Error) => void
}

export class RedisChangeBus implements ChangeBus {
  private readonly connection: RedisConnectionOptions
  private readonly prefix: string
  private readonly onError: (err: Error) => void
  private publisher: Redis | undefined
  private subscriber: Redis | undefined
  private readonly handlers = new Map<string, Set<ChangeHandler>>()

  constructor(opts: RedisChangeBusOptions) {
    this.connection = parseRedisUrl(opts.url)
    this.prefix = opts.prefix ?? 'slipway'
    this.onError = opts.onError ?? (() => undefined)
  }

  async publish(channel: string, message: string): Promise<void> {
    this.publisher ??= this.connect()
    try {
      await this.publisher.publish(this.key(channel), message)
    } catch (err) {
      throw new DependencyUnavailable('change bus (redis)', err)
    }
  }

  async subscribe(channel: string, handler: ChangeHandler): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      this.subscriber = this.connect()
      this.subscriber.on('message', (key: string, message: string) => {
        for (const h of [...(this.handlers.get(key) ?? [])]) deliver(h, message)
      })
      // notices published while the subscriber was away are lost: after a reconnect
      // every handler hears RESYNC ("anything may have changed") and drops what it cached
      let connected = false
      this.subscriber.on('ready', () => {
        if (connected) for (const set of [...this.handlers.values()]) for (const h of [...set]) deliver(h, RESYNC)
        connected = true
      })
    }
    const key = this.key(channel)
    let set = this.handlers.get(key)
    if (!set) {
      this.handlers.set(key, (set = new Set()))
      try {
        await this.subscriber.subscribe(key)
      } catch (err) {
        this.handlers.delete(key)
        throw new DependencyUnavailable('change bus (redis)', err)
      }
    }
    const entry: ChangeHandler = (m) => handler(m)
    set.add(entry)
    return async () => {
      set.delete(entry)
      if (set.size === 0 && this.handlers.get(key) === set) {
        this.handlers.delete(key)
        await this.subscriber?.unsubscribe(key).catch(() => undefined)
      }
    }
  }

  async close(): Promise<void> {
    const clients = [this.publisher, this.subscriber].filter((c): c is Redis => c !== undefined)
    this.publisher = this.subscriber = undefined
    this.handlers.clear()
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())))
  }

  private key(channel: string): string {
    return `${this.prefix}:bus:${channel}`
  }

  private connect(): Redis {
    // a publish must fail fast rather than queue forever while Redis is down
    const client = new Redis({ ...this.connection, maxRetriesPerRequest: 1, lazyConnect: false })
    client.on('error', (err) => this.onError(err))
    return client
  }
}

/**
 * The JobQueue contract on BullMQ against the real Redis at REDIS_URL (default
 * 127.0.0.1:6379). Each queue gets its own random key prefix, deleted afterwards.
 * Redis down is a failure, not a skip: start it with
 * `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { BullMqQueue } from '../../server/adapters/queue/index.js'
import { parseRedisUrl } from '../../server/adapters/queue/redis-connection.js'
import { queueContract } from './queue.contract.js'

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const prefixes: string[] = []

try {
  await new BullMqQueue({ url }).ping()
} catch (err) {
  throw new Error(`the BullMQ queue suite needs Redis at ${url}`, { cause: err })
}

t.teardown(async () => {
  const redis = new Redis(url)
  try {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`)
      if (keys.length > 0) await redis.del(...keys)
    }
  } finally {
    redis.disconnect()
  }
})

queueContract(t, async () => {
  const prefix = `slipway-test-${randomBytes(6).toString('hex')}`
  prefixes.push(prefix)
  return new BullMqQueue({ url, prefix })
})

t.test('ping() reports an unreachable Redis as DependencyUnavailable, quickly', async (t) => {
  const q = new BullMqQueue({ url: 'redis://127.0.0.1:1' })
  t.teardown(() => q.close())
  const started = Date.now()
  await t.rejects(q.ping(), { code: 'DEPENDENCY_UNAVAILABLE', kind: 'unavailable' })
  t.ok(Date.now() - started < 3000, 'does not retry forever')
})

t.test('enqueue() gives up on an unreachable Redis after timeoutMs instead of hanging', async (t) => {
  const q = new BullMqQueue({ url: 'redis://127.0.0.1:1', timeoutMs: 200 })
  t.teardown(() => q.close())
  const started = Date.now()
  await t.rejects(q.enqueue('x', {}), { code: 'DEPENDENCY_UNAVAILABLE' })
  t.ok(Date.now() - started < 2000, `gave up after ${Date.now() - started} ms`)
})

t.test('parseRedisUrl turns a URL into ioredis options', async (t) => {
  t.same(parseRedisUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 })
  t.same(parseRedisUrl('redis://user:p%40ss@redis.internal:6380/2'), {
    host: 'redis.internal',
    port: 6380,
    db: 2,
    username: 'user',
    password: 'p@ss',
  })
  t.same(parseRedisUrl('rediss://:secret@[::1]'), { host: '::1', port: 6379, password: 'secret', tls: {} })
  t.throws(() => parseRedisUrl('http://x'), { code: 'INVALID_REDIS_URL' })
  t.throws(() => parseRedisUrl('redis://x/abc'), { code: 'INVALID_REDIS_URL' })
})

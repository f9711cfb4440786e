/**
 * The ChangeBus port on both adapters: the in-process bus and Redis pub/sub (real Redis,
 * random prefix). Redis also across two bus instances, as two replicas hold them.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { InProcessChangeBus, RedisChangeBus } from '../../server/adapters/bus/index.js'
import type { ChangeBus } from '../../server/domain/ports/infrastructure.js'
import { REDIS_URL } from '../helpers/scale-out.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

function contract(t: Test, make: () => ChangeBus): void {
  t.test('a publish reaches every subscriber of its channel, and only them', async (t) => {
    const bus = make()
    t.teardown(() => bus.close())
    const got: string[] = []
    const other: string[] = []
    const off = await bus.subscribe('rollouts', (m) => got.push(`a:${m}`))
    await bus.subscribe('rollouts', (m) => got.push(`b:${m}`))
    await bus.subscribe('polls', (m) => other.push(m))
    await bus.publish('rollouts', 'r1')
    await until('both deliveries', () => got.length === 2)
    t.same(got.sort(), ['a:r1', 'b:r1'])
    await off()
    await bus.publish('rollouts', 'r2')
    await until('the remaining delivery', () => got.length === 3)
    await sleep(50)
    t.same(got.slice(2), ['b:r2'], 'unsubscribed handlers hear nothing more')
    t.same(other, [], 'other channels hear nothing')
  })

  t.test('a throwing subscriber does not break the publisher or the others', async (t) => {
    const bus = make()
    t.teardown(() => bus.close())
    const got: string[] = []
    await bus.subscribe('c', () => {
      throw new Error('subscriber bug')
    })
    await bus.subscribe('c', (m) => got.push(m))
    await t.resolves(bus.publish('c', 'x'))
    await until('delivery', () => got.length === 1)
    t.same(got, ['x'])
  })
}

t.test('in-process', async (t) => contract(t, () => new InProcessChangeBus()))

t.test('Redis pub/sub', async (t) => {
  const prefix = `slipway-test-${randomBytes(4).toString('hex')}`
  contract(t, () => new RedisChangeBus({ url: REDIS_URL, prefix }))

  t.test('across processes: one bus publishes, another hears; another prefix does not', async (t) => {
    const a = new RedisChangeBus({ url: REDIS_URL, prefix })
    const b = new RedisChangeBus({ url: REDIS_URL, prefix })
    const elsewhere = new RedisChangeBus({ url: REDIS_URL, prefix: `${prefix}-other` })
    t.teardown(() => Promise.all([a.close(), b.close(), elsewhere.close()]))
    const heard: string[] = []
    const strangers: string[] = []
    await b.subscribe('rollout-changes', (m) => heard.push(m))
    await elsewhere.subscribe('rollout-changes', (m) => strangers.push(m))
    await a.publish('rollout-changes', 'r-42')
    await until('the other bus to hear it', () => heard.length === 1)
    await sleep(50)
    t.same(heard, ['r-42'])
    t.same(strangers, [], 'a deployment with another prefix hears nothing')
  })

  t.test('publishing without Redis fails as DependencyUnavailable', async (t) => {
    const dead = new RedisChangeBus({ url: 'redis://127.0.0.1:1' })
    t.teardown(() => dead.close())
    await t.rejects(dead.publish('x', 'y'), { code: 'DEPENDENCY_UNAVAILABLE' })
  })
})

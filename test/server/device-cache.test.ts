/**
 * The poll's device cache (issue 14 §5) on real SQLite repositories: every committed
 * device write is announced (after the commit when in a transaction), a read racing an
 * invalidation is not kept, misses are not cached, last-seen stays in step.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openRepositories } from '../../server/adapters/db/index.js'
import { hashToken } from '../../server/domain/auth/auth-service.js'
import { DevicePollCache } from '../../server/domain/devices/device-cache.js'
import { announcingDeviceChanges } from '../../server/domain/devices/device-changes.js'

async function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-devcache-'))
  const repos = await openRepositories({ sqlitePath: join(dir, 'slipway.db') })
  t.teardown(async () => {
    await repos.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const now = new Date().toISOString()
  const id = randomUUID()
  const hash = hashToken(`sld_${id}`)
  await repos.fleet.devices.insert({ id, hardwareId: `hw-${id}`, hardware: 'rpi5', group: 'field', tags: [], credentialHash: hash, lastSeq: -1, lastState: null, lastReportAt: null, lastSeenAt: null, createdAt: now, updatedAt: now })
  return { repos, id, hash, now }
}

t.test('writes are announced once committed; the cache drops them', async (t) => {
  const { repos, id, hash, now } = await setup(t)
  const cache = new DevicePollCache(repos.fleet.devices, { ttlMs: 3_600_000, maxEntries: 10 })
  const heard: string[][] = []
  const fleet = announcingDeviceChanges(repos.fleet, { changed: (ids) => (heard.push(ids), cache.forget(ids)), seen: (d, at, exact) => cache.seen(d, at, exact) })
  t.equal((await cache.findByCredentialHash(hash))?.group, 'field')
  t.equal(cache.size, 1)
  await fleet.transaction(async (tx) => {
    await tx.inventory.setLabels(id, 'canary', [], now)
    t.same(heard, [], 'nothing is announced before the commit')
    t.equal((await cache.findByCredentialHash(hash))?.group, 'field', 'the cache still serves the committed state')
  })
  t.same(heard, [[id]], 'announced after the commit')
  t.equal((await cache.findByCredentialHash(hash))?.group, 'canary', 'the next read sees the change')
  await fleet.devices.setQuarantine(id, { at: now, reason: 'test' })
  t.same(heard.at(-1), [id], 'a write outside a transaction is announced too')
  t.ok((await cache.findByCredentialHash(hash))?.quarantinedAt)
  // last-seen: kept in step locally, not announced
  const count = heard.length
  await fleet.inventory.touch(id, new Date(Date.now() + 1000).toISOString(), now)
  t.equal(heard.length, count, 'a touch is not announced')
  t.ok((await cache.findByCredentialHash(hash))?.lastSeenAt, 'but the cached copy carries the new last-seen')
  t.equal(await cache.findByCredentialHash(hashToken('sld_nobody')), undefined)
  t.equal(cache.size, 1, 'a miss is not cached')
})

t.test('a read that races an invalidation of its device is not kept', async (t) => {
  const { repos, id, hash } = await setup(t)
  let release: () => void = () => undefined
  const gate = new Promise<void>((r) => (release = r))
  const slow = { findByCredentialHash: async (h: string) => { const r = await repos.fleet.devices.findByCredentialHash(h); await gate; return r } }
  const cache = new DevicePollCache(slow, { ttlMs: 3_600_000, maxEntries: 10 })
  const reading = cache.findByCredentialHash(hash)
  cache.forget([id])
  release()
  t.equal((await reading)?.id, id, 'the caller gets what it read')
  t.equal(cache.size, 0, 'but it is not kept: the change may be newer')
  await cache.findByCredentialHash(hash)
  t.equal(cache.size, 1, 'the next read is kept')
  cache.forget('*')
  t.equal(cache.size, 0, 'RESYNC drops everything')
})

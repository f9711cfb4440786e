/**
 * Rollback and re-install without downloading (issue 12 §2): when the other
 * slot (or model slot) already holds the assigned release, the agent hashes it,
 * records the check in the journal, switches without fetching a byte, and
 * reports `mode: slot-switch`. A slot that claims the target but hashes
 * differently falls back to a download, and the `downloading` event says why.
 */
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { fakeApi, offer, releaseOf, simDevice, trustKit, type FakeApi, type SimDevice } from './device-fixtures.js'

const blobGets = (api: FakeApi) => api.log.filter((r) => r.path.startsWith('/v1/blobs/')).length

/** v1 in a, v2 installed and committed in b: the starting point of a fleet rollback. */
async function upgraded(t: Test) {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(300_000, 1)
  const imageB = Buffer.alloc(350_000, 2)
  const v1 = releaseOf(imageA, { version: '1.0.0' })
  const v2 = releaseOf(imageB, { version: '2.0.0' })
  const dev = await simDevice(t, api, { imageA, installed: v1 })
  await offer(api, { image: imageB, release: v2, counter: 1 })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  await dev.powerCycle()
  t.equal((await dev.agent.tick()).outcome, 'committed')
  t.match(await dev.slotState(), { active: 'b', booted: 'b' })
  return { api, dev, imageA, imageB, v1, v2 }
}

async function rollBack(api: FakeApi, dev: SimDevice, image: Buffer, release: ReturnType<typeof releaseOf>) {
  await offer(api, { image, release, counter: 2, action: 'rollback', rolloutId: 'ro-1' })
  api.events.length = 0
  const first = await dev.agent.tick()
  await dev.powerCycle()
  const second = await dev.agent.tick()
  return [first.outcome, second.outcome]
}

t.test('a fleet rollback switches back to the slot that still holds the release, without a download', async (t) => {
  const { api, dev, imageA, v1 } = await upgraded(t)
  api.blobs.delete(v1.sha256) // the server could not even serve it: nothing may be fetched
  const before = blobGets(api)
  t.same(await rollBack(api, dev, imageA, v1), ['reboot-issued', 'committed'])
  t.equal(blobGets(api), before, 'no blob was requested')
  t.match(await dev.slotState(), { active: 'a', booted: 'a' })
  const j = (await dev.agent.status()).journal
  t.match(j.update, { step: 'committed', mode: 'slot-switch', slotCheck: { slot: 'a', sha256: v1.sha256, matched: true } }, 'the journal records the hash check')
  t.match(j.os, { version: '1.0.0' })
  t.same(
    api.events.map((e) => [e.state, e.mode]),
    [
      ['installing', 'slot-switch'],
      ['rebooting', 'slot-switch'],
      ['health-checking', 'slot-switch'],
      ['succeeded', 'slot-switch'],
    ],
  )
})

t.test('a re-assignment of the previous release (action install) is a slot-switch too', async (t) => {
  const { api, dev, imageA, v1 } = await upgraded(t)
  api.blobs.delete(v1.sha256)
  await offer(api, { image: imageA, release: v1, counter: 2, action: 'install', rolloutId: 'ro-2' })
  api.blobs.delete(v1.sha256)
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  await dev.powerCycle()
  t.equal((await dev.agent.tick()).outcome, 'committed')
  t.equal(api.events.at(-1).mode, 'slot-switch')
})

t.test('a slot that claims the target but hashes differently: downloaded instead, and reported', async (t) => {
  const { api, dev, imageA, v1 } = await upgraded(t)
  const fh = await open(join(dev.slotsDir, 'slot-a.img'), 'r+')
  await fh.write(Buffer.from([0xff]), 0, 1, 123_456) // one flipped byte
  await fh.close()
  const before = blobGets(api)
  t.same(await rollBack(api, dev, imageA, v1), ['reboot-issued', 'committed'])
  t.ok(blobGets(api) > before, 'the image was downloaded')
  t.ok((await readFile(join(dev.slotsDir, 'slot-a.img'))).equals(imageA), 'slot a holds the signed image again')
  const j = (await dev.agent.status()).journal
  t.match(j.update, { step: 'committed', mode: 'full', slotCheck: { slot: 'a', matched: false } })
  t.match(api.events[0], { state: 'downloading', mode: 'full', reason: { code: 'SLOT_CLAIM_MISMATCH' } })
  t.match(api.events.at(-1), { state: 'succeeded', mode: 'full' })
})

t.test('a slot being rewritten claims nothing: an interrupted download is never switched to', async (t) => {
  const { api, dev, imageA, imageB, v1 } = await upgraded(t)
  // a newer release starts downloading into a, then fails: a holds neither v1 nor v3
  const imageC = Buffer.alloc(300_000, 3)
  // wrong bytes of the right length: slot a is written, then the hash refuses it (PAYLOAD_HASH_MISMATCH)
  api.blobRoute = (_req, res) => void res.writeHead(200, { 'content-length': imageC.length }).end(Buffer.alloc(imageC.length, 9))
  await offer(api, { image: imageC, release: releaseOf(imageC, { version: '3.0.0' }), counter: 2 })
  t.equal((await dev.agent.tick()).outcome, 'failed')
  t.equal((await dev.agent.status()).journal.slots?.a, undefined, 'slot a claims nothing after it was opened for writing')
  delete api.blobRoute
  await offer(api, { image: imageA, release: v1, counter: 3, action: 'rollback' })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  // with no claim a fleet rollback is still worth one hash; it did not match, so it downloaded
  t.match((await dev.agent.status()).journal.update, { mode: 'full', slotCheck: { slot: 'a', matched: false } })
  t.ok((await readFile(join(dev.slotsDir, 'slot-b.img'))).equals(imageB), 'the running slot was never touched')
})

t.test('models: a rollback to the previous model switches the symlink back without a download', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(1000, 1)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  const modelsDir = join(dev.dir, 'models')
  Object.assign(dev.config, { models: { dir: modelsDir } })
  await dev.powerCycle()
  const m1 = Buffer.from('GGUF model one '.repeat(5000))
  const m2 = Buffer.from('GGUF model two '.repeat(6000))
  const r1 = releaseOf(m1, { name: 'llm', version: '1', kind: 'model' })
  await offer(api, { image: m1, release: r1, counter: 1 })
  t.match(await dev.agent.tick(), { outcome: 'committed' })
  await offer(api, { image: m2, release: releaseOf(m2, { name: 'llm', version: '2', kind: 'model' }), counter: 2 })
  t.match(await dev.agent.tick(), { outcome: 'committed' })
  api.blobs.delete(r1.sha256)
  const before = blobGets(api)
  api.events.length = 0
  await offer(api, { image: m1, release: r1, counter: 3, action: 'rollback' })
  api.blobs.delete(r1.sha256)
  t.match(await dev.agent.tick(), { outcome: 'committed' })
  t.equal(blobGets(api), before, 'no blob was requested')
  t.ok((await readFile(join(modelsDir, 'llm', 'current', 'model.gguf'))).equals(m1), 'model one is live again')
  t.match((await dev.agent.status()).journal, { models: { llm: { version: '1' } }, update: { mode: 'slot-switch', slotCheck: { matched: true } } })
  t.same(api.events.map((e) => [e.state, e.mode]), [
    ['installing', 'slot-switch'],
    ['health-checking', 'slot-switch'],
    ['succeeded', 'slot-switch'],
  ])
})

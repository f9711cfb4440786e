/**
 * Bad input (issue 6 §8): each case ends in a clear failure report (or, when the
 * answer names no rollout at all, a clear error) and an untouched active slot
 * that is still the one the bootloader boots.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { expiresIn } from '../../../signing/metadata/common.js'
import { sha256 as opSha } from '../../../server/delta/encode-op.js'
import { sampleDelta, writePatch } from '../delta-fixtures.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit, type FakeApi, type SimDevice } from './device-fixtures.js'
import { sendBlob, sha256 } from './http-fixtures.js'

const imageA = Buffer.alloc(200_000, 0xa)
const imageB = Buffer.alloc(300_000, 0xb)
const installed = releaseOf(imageA, { version: '1.0.0' })

async function setup(t: Test, o: Parameters<typeof simDevice>[2] extends infer P ? Partial<P> : never = {}) {
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA, installed, ...o })
  return { api, dev }
}

/** The device is exactly as provisioned: slot a active, booted, no trial, bytes unchanged. */
async function untouched(t: Test, dev: SimDevice, a: Buffer = imageA) {
  const st = await dev.slotState()
  t.match(st, { active: 'a', booted: 'a' }, 'still boots a')
  t.equal(st.trying, undefined, 'no trial marked')
  t.ok((await dev.slot('a')).equals(a), 'slot a bytes unchanged')
  const s = await dev.agent.status()
  t.match(s.journal.os, { version: '1.0.0' })
}

async function failedWith(t: Test, api: FakeApi, dev: SimDevice, code: string, a: Buffer = imageA) {
  const r = await dev.agent.tick().catch((e) => ({ outcome: 'threw', code: e.code }))
  t.match(r, { outcome: /failed|idle/ }, 'the tick ends normally')
  t.match(api.events.at(-1), { state: 'failed', reason: { code } }, `reported failed ${code}`)
  await untouched(t, dev, a)
}

t.test('server garbage: a poll body that is not JSON is SERVER_RESPONSE_INVALID; nothing to report against', async (t) => {
  const { api, dev } = await setup(t)
  api.offer = '<html>502 bad gateway</html>'
  await t.rejects(dev.agent.tick(), { code: 'SERVER_RESPONSE_INVALID' })
  api.offer = { assignment: 'nope', artifact: {} }
  await t.rejects(dev.agent.tick(), { code: 'SERVER_RESPONSE_INVALID' })
  t.same(api.events, [])
  await untouched(t, dev)
})

t.test('server garbage inside a signed document: a tampered assignment is SIGNATURE_INVALID, reported once', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  ;(api.offer as any).assignment.signed.counter = 99
  await failedWith(t, api, dev, 'SIGNATURE_INVALID')
  await dev.agent.tick()
  t.equal(api.events.length, 1, 'the same refusal is not reported on every poll')
})

t.test('an assignment for another device: ASSIGNMENT_WRONG_DEVICE, nothing downloaded', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB), deviceId: 'dev-2' })
  await failedWith(t, api, dev, 'ASSIGNMENT_WRONG_DEVICE')
  t.notOk(api.log.some((r) => r.path.startsWith('/v1/blobs/')), 'verified before downloading: no blob request')
})

t.test('an expired assignment: METADATA_EXPIRED, nothing downloaded', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB), assignmentExpires: expiresIn(-60) })
  await failedWith(t, api, dev, 'METADATA_EXPIRED')
  t.notOk(api.log.some((r) => r.path.startsWith('/v1/blobs/')))
})

t.test('a replayed older assignment after a newer one: ASSIGNMENT_REPLAY', async (t) => {
  const { api, dev } = await setup(t)
  const small = Buffer.alloc(1000, 3)
  await offer(api, { image: small, release: releaseOf(small, { version: '1.1.0' }), counter: 5, deviceId: 'dev-1' })
  api.blobRoute = (_req, res) => void res.writeHead(404).end() // accept, then fail the download: counter 5 is recorded
  await dev.agent.tick()
  await offer(api, { image: imageB, release: releaseOf(imageB), counter: 4 })
  api.blobRoute = undefined
  const reported = api.events.length
  t.match(await dev.agent.tick(), { outcome: 'idle', poll: 'rejected' }, 'the tick ends normally')
  // issue 12 §6: a replay is a security event, never an install outcome of the rollout it names
  t.equal(api.events.length, reported, 'no state event for the replayed rollout')
  t.match(api.security, [{ kind: 'offer-refused', reason: { code: 'ASSIGNMENT_REPLAY' }, claimed: { rolloutId: 'ro-1', release: { version: '2.0.0' } } }])
  await untouched(t, dev)
})

t.test('a redirect of the artifact to another host: DOWNLOAD_REDIRECT_REFUSED', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  api.blobRoute = (_req, res) => void res.writeHead(302, { location: 'http://evil.example/image.img' }).end()
  await failedWith(t, api, dev, 'DOWNLOAD_REDIRECT_REFUSED')
})

t.test('a body that breaks off at the same byte every time: DOWNLOAD_TRUNCATED once the attempts are spent', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  // Range ignored: every attempt starts over and never gets further (one that does get further is progress, and finishes)
  api.blobRoute = (req, res) => sendBlob(req, res, imageB, { cutAfter: 1000, ignoreRange: true })
  // the first tick got its first 1000 bytes (progress: it does not count as an attempt); the second gets no further
  t.equal((await dev.agent.tick()).outcome, 'retry-later')
  await failedWith(t, api, dev, 'DOWNLOAD_TRUNCATED')
})

t.test('a body longer than announced and signed: DOWNLOAD_TOO_LONG', async (t) => {
  const { api, dev } = await setup(t)
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  api.blobRoute = (_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.end(Buffer.concat([imageB, Buffer.alloc(10, 1)]))
  }
  await failedWith(t, api, dev, 'DOWNLOAD_TOO_LONG')
})

t.test('a delta whose output is not the signed image: DELTA_TARGET_HASH_MISMATCH, b never marked', async (t) => {
  const { source, target, ops } = await sampleDelta()
  const claimed = Buffer.from(target)
  claimed[0] = claimed[0]! ^ 1
  // header and metadata promise `claimed` (the CI-signed image); the ops build `target`
  const patch = await writePatch(source, target, ops, opSha(claimed))
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA: source, installed: releaseOf(source, { version: '1.0.0' }) })
  await offer(api, { image: claimed, release: releaseOf(claimed), patch: { bytes: patch, sourceSha256: sha256(source) } })
  await failedWith(t, api, dev, 'DELTA_TARGET_HASH_MISMATCH', source)
})

t.test('a full disk: the kernel says ENOSPC (/dev/full as slot b): SLOT_NO_SPACE', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const placeholder = await simDevice(t, api, { imageA, installed })
  const dev = await simDevice(t, api, { imageA, installed, slotPaths: { a: join(placeholder.slotsDir, 'slot-a.img'), b: '/dev/full' } })
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  await failedWith(t, api, dev, 'SLOT_NO_SPACE')
})

t.test('an unreadable active slot as the delta source: ACTIVE_SLOT_UNREADABLE before b is opened', async (t) => {
  const { source, target, patch } = await sampleDelta()
  const api = await fakeApi(t, await trustKit())
  const holder = await simDevice(t, api, { imageA: source, installed: releaseOf(source, { version: '1.0.0' }) })
  // root reads any file whatever its mode: a folder where the image should be fails every read (EISDIR)
  const unreadable = join(holder.dir, 'gone-bad')
  await mkdir(unreadable)
  const dev = await simDevice(t, api, {
    imageA: source,
    installed: releaseOf(source, { version: '1.0.0' }),
    slotPaths: { a: unreadable, b: join(holder.slotsDir, 'slot-b.img') },
  })
  await offer(api, { image: target, release: releaseOf(target), patch: { bytes: patch, sourceSha256: sha256(source) } })
  const r = await dev.agent.tick()
  t.equal(r.outcome, 'failed')
  t.match(api.events.at(-1), { state: 'failed', reason: { code: 'ACTIVE_SLOT_UNREADABLE' } })
  const st = await dev.slotState()
  t.match(st, { active: 'a', booted: 'a' })
  t.equal(st.trying, undefined)
  t.notOk(api.log.some((x) => x.path === `/v1/blobs/${sha256(target)}`))
})

t.test('hardware and anti-rollback: HARDWARE_INCOMPATIBLE, SECURITY_VERSION_DOWNGRADE', async (t) => {
  const { api, dev } = await setup(t, { installed: releaseOf(imageA, { version: '1.0.0', securityVersion: 3 }) })
  await offer(api, { image: imageB, release: releaseOf(imageB, { hardware: ['rpi5'] }) })
  await failedWith(t, api, dev, 'HARDWARE_INCOMPATIBLE')
  await offer(api, { image: imageB, release: releaseOf(imageB, { securityVersion: 2 }), counter: 2 })
  await failedWith(t, api, dev, 'SECURITY_VERSION_DOWNGRADE')
})


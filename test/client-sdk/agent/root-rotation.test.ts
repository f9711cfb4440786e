/**
 * Root chain (TUF 1.0 §5.3) from the agent's side: the device trusts root v1;
 * the server rotated the online key in root v2. The agent fetches v2, checks it
 * against v1 and itself, caches it, and accepts assignments signed by the new
 * key; a v3 not signed by v2's root keys is refused and v2 stays trusted.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { FileKeySigner } from '../../../signing/file-signer.js'
import { buildAssignment } from '../../../signing/metadata/assignment.js'
import { expiresIn } from '../../../signing/metadata/common.js'
import { rootSigned, signed } from '../../signing/fixtures.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'

t.test('the agent walks to a rotated root, caches it, and refuses a forged next one', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(5000, 1)
  const imageB = Buffer.alloc(6000, 2)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  const newOnline = FileKeySigner.generate('ed25519')
  const k2 = { ...trust.keys, online: [newOnline] }
  api.newerRoots.push(await signed(rootSigned(k2, { version: 2, thresholds: { root: 1 } }), trust.keys.root))
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  // re-sign the assignment with the new online key only
  const a = (api.offer as any).assignment.signed
  ;(api.offer as any).assignment = JSON.parse((await signed(buildAssignment({ deviceId: a.deviceId, release: a.release, rolloutId: a.rolloutId, counter: a.counter }, { expires: expiresIn(3600) }), [newOnline])).toString())
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued', 'the assignment signed by the rotated key is accepted')
  t.same(await readdir(join(dev.config.dataDir, 'roots')), ['2.json'], 'root v2 cached')

  // a v3 signed by a key root v2 does not list: refused, v2 stays
  const rogue = FileKeySigner.generate('ed25519')
  api.newerRoots.push(await signed(rootSigned({ ...k2, root: [rogue] }, { version: 3, thresholds: { root: 1 } }), [rogue]))
  await offer(api, { image: imageB, release: releaseOf(imageB, { version: '3.0.0' }), counter: 2 })
  await dev.powerCycle()
  await dev.agent.tick()
  // a refused offer is a security event, never an install outcome of a rollout
  t.match(api.security.at(-1), { kind: 'offer-refused', reason: { code: 'ROOT_NOT_SIGNED_BY_PREVIOUS' } })
  t.notMatch(api.events.at(-1), { state: 'failed' }, 'and no failure is reported into the rollout')
  t.same(await readdir(join(dev.config.dataDir, 'roots')), ['2.json'], 'the forged v3 is not cached')
})

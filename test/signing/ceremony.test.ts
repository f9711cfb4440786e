/**
 * The key ceremony as the CLI will run it, end to end with a root key in a
 * PKCS#11 token: create root → add a CI key → revoke the old one → raise the root
 * threshold → rotate the online key; CI signs a release; it is verified offline.
 * After each step a device walking the chain sees exactly what it should.
 */
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addReleaseKey, changeThresholds, createRoot, proposeRootUpdate, publishRoot, revokeReleaseKey, rotateOnlineKey, rotateRoot, signRelease, signRoot, verifyReleaseOffline,
} from '../../signing/ceremony/index.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { generateTokenKey } from '../../signing/pkcs11/index.js'
import { TrustedRoot, verifyAssignment, verifyRelease } from '../../signing/verify/index.js'
import { assignmentDoc, payload, release, signed } from './fixtures.js'
import { softhsm, USER_PIN } from './softhsm.js'

const hsm = await softhsm(['root-key-1'])
const dir = await mkdtemp(join(tmpdir(), 'slipway-ceremony-'))
t.teardown(async () => {
  await rm(dir, { recursive: true, force: true })
  await hsm.cleanup()
})

t.test('a root ceremony, step by step', async (t) => {
  const tokenRoot = await generateTokenKey({ modulePath: hsm.modulePath, tokenLabel: 'root-key-1', pin: { value: USER_PIN }, keyLabel: 'root-1' }, 'ecdsa')
  t.teardown(() => tokenRoot.close())
  const rootKeys = [tokenRoot, FileKeySigner.generate('ed25519'), FileKeySigner.generate('ed25519')]
  const ci1 = FileKeySigner.generate('ecdsa')
  const ci2 = FileKeySigner.generate('ed25519')
  const online1 = FileKeySigner.generate('ecdsa')
  const online2 = FileKeySigner.generate('ecdsa')

  // 1. create: 3 root keys, threshold 2
  const spec = {
    roles: {
      root: { keys: rootKeys.map((s) => s.publicKey), threshold: 2 },
      release: { keys: [ci1.publicKey], threshold: 1 },
      online: { keys: [online1.publicKey], threshold: 1 },
    },
  }
  await t.rejects(createRoot(spec, [rootKeys[1]!]), { code: 'CEREMONY_INVALID' }, 'one signature does not meet the threshold')
  await t.rejects(createRoot({ ...spec, roles: { ...spec.roles, root: { ...spec.roles.root, threshold: 4 } } }, rootKeys), { code: 'CEREMONY_INVALID' }, '4 of 3')
  const v1 = await createRoot(spec, [tokenRoot, rootKeys[1]!])
  t.equal(TrustedRoot.walk(v1, []).version, 1)

  // 2. add CI key 2 (multi-step: each holder signs on their own machine)
  const proposal = proposeRootUpdate(v1, addReleaseKey(ci2.publicKey))
  t.equal(proposal.version, 2)
  t.equal(proposal.roles.release.keyids.length, 2)
  const partly = await signRoot(proposal, [tokenRoot])
  t.throws(() => publishRoot(v1, partly), { code: 'CEREMONY_INVALID' }, 'not yet a threshold')
  const v2 = publishRoot(v1, await signRoot(partly, [rootKeys[2]!]))
  t.ok(verifyRelease(TrustedRoot.walk(v1, [v2]), await signRelease(release(), [ci2])), 'CI key 2 now signs releases')

  // 3. revoke CI key 1
  t.throws(() => proposeRootUpdate(v2, revokeReleaseKey('0'.repeat(64))), { code: 'CEREMONY_INVALID' }, 'no such key')
  const v3 = await rotateRoot(v2, revokeReleaseKey(ci1.keyId), [rootKeys[1]!, rootKeys[2]!])
  const byCi1 = await signRelease(release(), [ci1])
  t.ok(verifyRelease(TrustedRoot.walk(v1, [v2]), byCi1), 'before: accepted')
  t.throws(() => verifyRelease(TrustedRoot.walk(v1, [v2, v3]), byCi1), { code: 'SIGNATURE_REVOKED_KEY' }, 'after: refused')
  await t.rejects(rotateRoot(v3, revokeReleaseKey(ci2.keyId), rootKeys), { code: 'CEREMONY_INVALID' }, 'the last release key cannot go')

  // 4. raise the root threshold to 3: the new root must carry 3 signatures
  await t.rejects(rotateRoot(v3, changeThresholds({ root: 3 }), rootKeys.slice(0, 2)), { code: 'CEREMONY_INVALID' })
  const v4 = await rotateRoot(v3, changeThresholds({ root: 3 }), rootKeys)
  t.equal(TrustedRoot.walk(v1, [v2, v3, v4]).role('root').threshold, 3)

  // 5. rotate the online key
  const v5 = await rotateRoot(v4, rotateOnlineKey(online2.publicKey, [online1.keyId]), rootKeys)
  const chain = [v2, v3, v4, v5]
  const trust = TrustedRoot.walk(v1, chain)
  const oldAssignment = await signed(assignmentDoc(), [online1])
  t.throws(() => verifyAssignment(trust, oldAssignment, { deviceId: 'dev-001' }), { code: 'SIGNATURE_REVOKED_KEY' }, 'old online key refused')
  t.ok(verifyAssignment(trust, await signed(assignmentDoc(), [online2]), { deviceId: 'dev-001' }), 'new online key accepted')

  // Devices refuse a skipped step, as publishRoot does.
  t.throws(() => TrustedRoot.walk(v1, [v2, v4]), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' })
  const skipped = await signRoot(proposeRootUpdate(v4, changeThresholds({ release: 1 })), rootKeys)
  t.throws(() => publishRoot(v3, skipped), { code: 'CEREMONY_INVALID', details: { reason: 'ROOT_VERSION_NOT_CONSECUTIVE' } })

  // 6. CI signs a release; anyone verifies it offline, with the artifact
  const artifact = join(dir, 'edge-os-2.1.0.img')
  await writeFile(artifact, payload)
  const rel = await signRelease(release(), [ci2])
  const ok = await verifyReleaseOffline([v1, ...chain], rel, { artifactPath: artifact })
  t.match(ok, { rootVersion: 5, artifactChecked: true, keyIds: [ci2.keyId] })
  t.same(ok.release, release())
  await writeFile(artifact, Buffer.concat([payload.subarray(0, 10), Buffer.from('X'), payload.subarray(11)]))
  await t.rejects(verifyReleaseOffline([v1, ...chain], rel, { artifactPath: artifact }), { code: 'PAYLOAD_HASH_MISMATCH' })
  await t.rejects(verifyReleaseOffline([v1, ...chain], byCi1), { code: 'SIGNATURE_REVOKED_KEY' })
})

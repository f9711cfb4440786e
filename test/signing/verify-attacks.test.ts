/**
 * Every attack of issue 3, tried against really signed metadata, each refused
 * with its own error code. Keys are generated per run.
 */
import t from 'tap'
import { canonicalWire } from '../../signing/canonical-json.js'
import { encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { keyIdOf, type TufKey } from '../../signing/keys.js'
import { buildDelta } from '../../signing/metadata/delta.js'
import { expiresIn } from '../../signing/metadata/common.js'
import type { Signer } from '../../signing/signer.js'
import {
  TrustedRoot, checkUpdate, verifyAssignment, verifyDelta, verifyPayload, verifyRelease, type VerifyOptions,
} from '../../signing/verify/index.js'
import { DAY, assignment, assignmentDoc, keys, payload, release, releaseDoc, rootSigned, sha256, signed, type RootKeys } from './fixtures.js'

const k = keys()
const pinnedRoot = async (kk: RootKeys = k, o: Parameters<typeof rootSigned>[1] = {}) => signed(rootSigned(kk, o), kk.root.slice(0, 2))
const trustFor = async (opts?: VerifyOptions) => TrustedRoot.fromPinned(await pinnedRoot(), opts)

/** Re-encode a signed envelope after changing it, keeping its signatures. */
function tamper(bytes: Buffer, change: (doc: any) => void): Buffer {
  const doc = JSON.parse(bytes.toString('utf8'))
  change(doc)
  return Buffer.from(canonicalWire(doc), 'utf8')
}

/** A signer presenting another keyid (e.g. the same key spelt differently). */
const asKeyId = (s: Signer, publicKey: TufKey): Signer => ({ keyId: keyIdOf(publicKey), publicKey, sign: (d) => s.sign(d) })

t.test('baseline: genuine metadata verifies', async (t) => {
  const trust = await trustFor()
  const rel = verifyRelease(trust, await signed(releaseDoc(), k.release))
  t.same(rel.release, release())
  t.same([...rel.keyIds].sort(), k.release.map((s) => s.keyId).sort(), 'both CI keys counted')
  const a = verifyAssignment(trust, await signed(assignmentDoc(), k.online), { deviceId: 'dev-001', lastCounter: 6 })
  t.equal(a.assignment.counter, 7)
  t.doesNotThrow(() => checkUpdate({ assignment: a.assignment, release: rel.release }, { hardware: 'rpi4', securityVersion: 5 }))
  await t.resolves(verifyPayload(payload, release()))
  await t.resolves(verifyPayload([payload.subarray(0, 10), payload.subarray(10)], release()), 'streamed in chunks')
})

t.test('tampered payload bytes → PAYLOAD_HASH_MISMATCH / PAYLOAD_LENGTH_MISMATCH', async (t) => {
  const bad = Buffer.from(payload)
  bad[100] = (bad[100] as number) ^ 1
  await t.rejects(verifyPayload(bad, release()), { code: 'PAYLOAD_HASH_MISMATCH' })
  await t.rejects(verifyPayload(Buffer.concat([payload, Buffer.from('x')]), release()), { code: 'PAYLOAD_LENGTH_MISMATCH' }, 'endless data')
  await t.rejects(verifyPayload(payload.subarray(1), release()), { code: 'PAYLOAD_LENGTH_MISMATCH' }, 'truncated')
})

t.test('tampered metadata field → SIGNATURE_INVALID', async (t) => {
  const trust = await trustFor()
  const good = await signed(releaseDoc(), k.release)
  const bad = tamper(good, (d) => { d.signed.targets['edge-os/2.1.0'].custom.securityVersion = 99 })
  t.throws(() => verifyRelease(trust, bad), { code: 'SIGNATURE_INVALID' })
  const badA = tamper(await signed(assignmentDoc(), k.online), (d) => { d.signed.expires = expiresIn(999 * DAY) })
  t.throws(() => verifyAssignment(trust, badA, { deviceId: 'dev-001' }), { code: 'SIGNATURE_INVALID' })
  const badSig = tamper(good, (d) => { for (const x of d.signatures) x.sig = 'ab'.repeat(64) })
  t.throws(() => verifyRelease(trust, badSig), { code: 'SIGNATURE_INVALID' }, 'garbage signature bytes')
})

t.test('signature by an unknown key → SIGNATURE_UNKNOWN_KEY', async (t) => {
  const trust = await trustFor()
  const stranger = FileKeySigner.generate('ed25519')
  t.throws(() => verifyRelease(trust, Buffer.from('')), { code: 'DOC_MALFORMED' })
  const byStranger = await signed(releaseDoc(), [stranger])
  t.throws(() => verifyRelease(trust, byStranger), { code: 'SIGNATURE_UNKNOWN_KEY' })
  const byCi = await signed(assignmentDoc(), k.release)
  t.throws(() => verifyAssignment(trust, byCi, { deviceId: 'dev-001' }), { code: 'SIGNATURE_UNKNOWN_KEY' }, 'the CI key may not sign assignments')
})

t.test('threshold not met → THRESHOLD_NOT_MET', async (t) => {
  const trust = TrustedRoot.fromPinned(await pinnedRoot(k, { thresholds: { release: 2 } }))
  const one = await signed(releaseDoc(), [k.release[0]!])
  t.throws(() => verifyRelease(trust, one), { code: 'THRESHOLD_NOT_MET' })
  const plusStranger = await signed(releaseDoc(), [k.release[0]!, FileKeySigner.generate('ed25519')])
  t.throws(() => verifyRelease(trust, plusStranger), { code: 'THRESHOLD_NOT_MET' }, 'a stranger does not make up the count')
  t.ok(verifyRelease(trust, await signed(releaseDoc(), k.release)).release)
})

t.test('the same key twice toward a threshold → SIGNATURE_DUPLICATE', async (t) => {
  const trust = TrustedRoot.fromPinned(await pinnedRoot(k, { thresholds: { release: 2 } }))
  const one = await signEnvelope(releaseDoc(), [k.release[0]!])
  const twice = encodeEnvelope({ ...one, signatures: [one.signatures[0]!, one.signatures[0]!] })
  t.throws(() => verifyRelease(trust, twice), { code: 'SIGNATURE_DUPLICATE' }, 'two entries with one keyid')

  // One P-256 key listed under two keyids (its PEM spelt two ways): still one key.
  const ec = FileKeySigner.generate('ecdsa')
  const alt: TufKey = { ...ec.publicKey, keyval: { public: ec.publicKey.keyval.public.trimEnd() } }
  t.not(keyIdOf(alt), ec.keyId)
  const kk: RootKeys = { ...k, release: [ec, asKeyId(ec, alt)] }
  const trust2 = TrustedRoot.fromPinned(await pinnedRoot(kk, { thresholds: { release: 2 } }))
  const sameKeyTwice = await signed(releaseDoc(), kk.release)
  t.throws(() => verifyRelease(trust2, sameKeyTwice), { code: 'SIGNATURE_DUPLICATE' }, 'two keyids, one key')
})

t.test('expired metadata (freeze) past the grace → METADATA_EXPIRED', async (t) => {
  const old = await signed(assignmentDoc(assignment(), expiresIn(-2 * DAY)), k.online)
  const strict = await trustFor()
  t.throws(() => verifyAssignment(strict, old, { deviceId: 'dev-001' }), { code: 'METADATA_EXPIRED' })
  const lenient = await trustFor({ expiryGraceSeconds: 3 * DAY })
  t.ok(verifyAssignment(lenient, old, { deviceId: 'dev-001' }), 'inside the grace an offline device still accepts it')
  const strictLater = await trustFor({ expiryGraceSeconds: 3 * DAY, now: () => new Date(Date.now() + 2 * DAY * 1000) })
  t.throws(() => verifyAssignment(strictLater, old, { deviceId: 'dev-001' }), { code: 'METADATA_EXPIRED' }, 'but not past it')
  const expiredRoot = await pinnedRoot(k, { expires: expiresIn(-DAY) })
  t.throws(() => TrustedRoot.walk(expiredRoot, []), { code: 'METADATA_EXPIRED' }, 'root too (§5.3.10)')
})

t.test('an older assignment replayed → ASSIGNMENT_REPLAY', async (t) => {
  const trust = await trustFor()
  const a7 = await signed(assignmentDoc(assignment({ counter: 7 })), k.online)
  t.throws(() => verifyAssignment(trust, a7, { deviceId: 'dev-001', lastCounter: 7 }), { code: 'ASSIGNMENT_REPLAY' }, 'same counter')
  t.throws(() => verifyAssignment(trust, a7, { deviceId: 'dev-001', lastCounter: 8 }), { code: 'ASSIGNMENT_REPLAY' }, 'older counter')
})

t.test("another device's assignment (mix-and-match) → ASSIGNMENT_WRONG_DEVICE", async (t) => {
  const other = await signed(assignmentDoc(assignment({ deviceId: 'dev-002' })), k.online)
  const trust = await trustFor()
  t.throws(() => verifyAssignment(trust, other, { deviceId: 'dev-001' }), { code: 'ASSIGNMENT_WRONG_DEVICE' })
})

t.test('securityVersion downgrade → SECURITY_VERSION_DOWNGRADE (equal is allowed)', async (t) => {
  const a = assignment()
  t.throws(() => checkUpdate({ assignment: a, release: release() }, { hardware: 'rpi4', securityVersion: 6 }), { code: 'SECURITY_VERSION_DOWNGRADE' })
  t.doesNotThrow(() => checkUpdate({ assignment: a, release: release() }, { hardware: 'rpi4', securityVersion: 5 }), 'rollback to equal securityVersion')
  t.throws(() => checkUpdate({ assignment: a, release: release() }, { hardware: 'x86', securityVersion: 0 }), { code: 'HARDWARE_INCOMPATIBLE' })
  const other = release({ version: '2.2.0' })
  t.throws(() => checkUpdate({ assignment: a, release: other }, { hardware: 'rpi4', securityVersion: 0 }), { code: 'ASSIGNMENT_RELEASE_MISMATCH' })
})

t.test('delta must lead from the installed image to the CI-signed target → DELTA_MISMATCH', async (t) => {
  const trust = await trustFor()
  const installed = sha256(Buffer.from('old image'))
  const d = { sourceSha256: installed, targetSha256: release().sha256, patchSha256: 'e'.repeat(64), patchLength: 10, format: 'bsdiff40-windowed' }
  const v = verifyDelta(trust, await signed(buildDelta(d, { expires: expiresIn(DAY) }), k.online))
  const a = assignment({ delta: d })
  t.doesNotThrow(() => checkUpdate({ assignment: a, release: release(), delta: v.delta }, { hardware: 'rpi4', securityVersion: 1, installedSha256: installed }))
  const forged = { ...d, targetSha256: 'f'.repeat(64) }
  t.throws(() => checkUpdate({ assignment: assignment({ delta: forged }), release: release(), delta: forged }, { hardware: 'rpi4', securityVersion: 1, installedSha256: installed }), { code: 'DELTA_MISMATCH' })
  t.throws(() => checkUpdate({ assignment: a, release: release(), delta: v.delta }, { hardware: 'rpi4', securityVersion: 1, installedSha256: 'a'.repeat(64) }), { code: 'DELTA_MISMATCH' })
  const deltaBytes = await signed(buildDelta(d, { expires: expiresIn(DAY) }), k.online)
  t.throws(() => verifyAssignment(trust, deltaBytes, { deviceId: 'dev-001' }), { code: 'DOC_WRONG_TYPE' }, 'a delta is not an assignment')
})

t.test('root rotation: genuine chain walks; bad rotations refused', async (t) => {
  const v1 = await pinnedRoot()
  const k2: RootKeys = { ...k, root: [k.root[0]!, FileKeySigner.generate('ecdsa'), FileKeySigner.generate('ed25519')] }
  const r2 = rootSigned(k2, { version: 2 })
  const v2 = await signed(r2, [k.root[0]!, k.root[1]!, k2.root[1]!]) // old: 2 of 3, new: 2 of 3
  const k3: RootKeys = { ...k2, root: [FileKeySigner.generate('ed25519'), FileKeySigner.generate('ed25519')] }
  const v3 = await signed(rootSigned(k3, { version: 3, thresholds: { root: 1 } }), [k2.root[1]!, k2.root[2]!, k3.root[0]!])
  const trust = TrustedRoot.walk(v1, [v2, v3])
  t.equal(trust.version, 3)
  t.throws(() => trust.update(v3), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' }, 'the current root replayed')
  t.throws(() => trust.update(v2), { code: 'ROOT_NOT_SIGNED_BY_PREVIOUS' }, 'an older root, not signed by the current root keys')

  // signed only by the new keys
  const onlyNew = await signed(r2, [k2.root[1]!, k2.root[2]!])
  t.throws(() => TrustedRoot.fromPinned(v1).update(onlyNew), { code: 'ROOT_NOT_SIGNED_BY_PREVIOUS' })
  // signed only by the old keys (new key holders absent)
  const k2b: RootKeys = { ...k, root: [FileKeySigner.generate('ed25519'), FileKeySigner.generate('ed25519')] }
  const onlyOld = await signed(rootSigned(k2b, { version: 2 }), k.root)
  t.throws(() => TrustedRoot.fromPinned(v1).update(onlyOld), { code: 'ROOT_NOT_SELF_SIGNED' })
  // skipping a version, though correctly signed by old and new thresholds
  const skip = await signed(rootSigned(k2, { version: 3 }), [k.root[0]!, k.root[1]!, k2.root[1]!])
  t.throws(() => TrustedRoot.fromPinned(v1).update(skip), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' })
  // replaying the same version
  t.throws(() => TrustedRoot.fromPinned(v1).update(v1), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' })
  const trusted = TrustedRoot.fromPinned(v1)
  t.throws(() => trusted.update(skip), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' }, 'a skipped version, on a root kept for the next check')
  t.equal(trusted.version, 1, 'a refused root leaves the trusted one in place')
})

t.test('a revoked CI key after rotation → SIGNATURE_REVOKED_KEY', async (t) => {
  const v1 = await pinnedRoot()
  const [kept, revoked] = k.release as [Signer, Signer]
  const k2: RootKeys = { ...k, release: [kept] }
  const v2 = await signed(rootSigned(k2, { version: 2 }), k.root.slice(0, 2))
  const relByRevoked = await signed(releaseDoc(), [revoked])
  t.ok(verifyRelease(TrustedRoot.walk(v1, []), relByRevoked), 'accepted before the rotation')
  const trust = TrustedRoot.walk(v1, [v2])
  t.throws(() => verifyRelease(trust, relByRevoked), { code: 'SIGNATURE_REVOKED_KEY' })
  t.ok(verifyRelease(trust, await signed(releaseDoc(), [kept])), 'the kept key still works')
})

t.test('malformed, non-canonical and huge documents', async (t) => {
  const trust = await trustFor({ maxBytes: 64 * 1024 })
  const good = await signed(releaseDoc(), k.release)
  t.throws(() => verifyRelease(trust, good.subarray(0, good.length - 1)), { code: 'DOC_MALFORMED' }, 'truncated JSON')
  t.throws(() => verifyRelease(trust, Buffer.from('{"signatures":{},"signed":{}}')), { code: 'DOC_MALFORMED' }, 'wrong shape')
  const pretty = Buffer.from(JSON.stringify(JSON.parse(good.toString()), null, 2))
  t.throws(() => verifyRelease(trust, pretty), { code: 'DOC_NOT_CANONICAL' }, 'pretty-printed')
  // Duplicate key: JSON.parse keeps the last value; a signed first value must not hide it.
  const dup = Buffer.from(good.toString().replace('"securityVersion":5', '"securityVersion":5,"securityVersion":0'))
  t.throws(() => verifyRelease(trust, dup), { code: 'DOC_NOT_CANONICAL' }, 'duplicate key')
  const huge = await signed({ ...releaseDoc(), padding: 'x'.repeat(100 * 1024) }, k.release)
  t.throws(() => verifyRelease(trust, huge), { code: 'DOC_TOO_LARGE' })
  const root = await pinnedRoot()
  t.throws(() => TrustedRoot.fromPinned(root, { maxBytes: 100 }), { code: 'DOC_TOO_LARGE' }, 'roots too')
})

t.test('wrong key type for a role → KEY_TYPE_NOT_ALLOWED', async (t) => {
  // Policy: the online role must be an HSM-held P-256 key; an Ed25519 file key is refused.
  const trust = await trustFor({ allowedKeyTypes: { online: ['ecdsa'] } })
  const byEd25519 = await signed(assignmentDoc(), k.online)
  t.throws(() => verifyAssignment(trust, byEd25519, { deviceId: 'dev-001' }), { code: 'KEY_TYPE_NOT_ALLOWED' })
  // A root whose key claims to be Ed25519 but holds a P-256 key.
  const ec = FileKeySigner.generate('ecdsa')
  const r = rootSigned(k)
  const liar = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: ec.publicKey.keyval.public } }
  const bad = { ...r, keys: { ...r.keys, [keyIdOf(liar as TufKey)]: liar } }
  const badBytes = await signed(bad, k.root)
  t.throws(() => TrustedRoot.fromPinned(badBytes), { code: 'KEY_MALFORMED' }, 'P-256 PEM is not 64 hex chars')
  const liar2 = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: FileKeySigner.generate('ed25519').toPem().replace(/PRIVATE/g, 'PUBLIC') } }
  const bad2 = { ...r, keys: { ...r.keys, [keyIdOf(liar2 as TufKey)]: liar2 } }
  const bad2Bytes = await signed(bad2, k.root)
  t.throws(() => TrustedRoot.fromPinned(bad2Bytes), { code: 'KEY_PRIVATE' }, 'a private key is not a public key')
  const edPub = FileKeySigner.generate('ed25519')
  const { createPublicKey } = await import('node:crypto')
  const edPem = createPublicKey(edPub.toPem()).export({ format: 'pem', type: 'spki' }).toString()
  const liar3 = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: edPem } }
  const bad3 = { ...r, keys: { ...r.keys, [keyIdOf(liar3 as TufKey)]: liar3 } }
  const bad3Bytes = await signed(bad3, k.root)
  t.throws(() => TrustedRoot.fromPinned(bad3Bytes), { code: 'KEY_TYPE_NOT_ALLOWED' }, 'an Ed25519 key labelled ecdsa')
})

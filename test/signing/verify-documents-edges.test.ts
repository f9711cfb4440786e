/**
 * The document verifiers and the root walk at their edges (signing/verify/documents.ts,
 * trusted-root.ts), against really signed metadata: what a verified document returns,
 * the options each check reads (size cap, clock, grace, key types per role), the
 * assignment's counter at, below and above the last one, and each root refusal with
 * its message, details and cause; revoked keys per role, forgotten again when a later
 * root lists them; the roles a walk ends with. Ed25519 file keys, generated per run.
 */
import t from 'tap'
import { encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { TrustError } from '../../signing/errors.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { buildDelta } from '../../signing/metadata/delta.js'
import { expiresIn } from '../../signing/metadata/common.js'
import { TrustedRoot, verifyAssignment, verifyDelta, verifyRelease, type VerifyOptions } from '../../signing/verify/index.js'
import { DAY, assignment, assignmentDoc, keys, release, releaseDoc, rootSigned, signed, type RootKeys } from './fixtures.js'

const k = keys()
const v1 = await signed(rootSigned(k), k.root.slice(0, 2))
const trustFor = (opts?: VerifyOptions) => TrustedRoot.fromPinned(v1, opts)

function outcome(f: () => unknown): { code: string; message?: string; details?: unknown; cause?: unknown } {
  try {
    f()
    return { code: 'ok' }
  } catch (e) {
    if (!(e instanceof TrustError)) return { code: `not a TrustError: ${String(e)}` }
    const cause = e.cause instanceof TrustError ? e.cause.code : e.cause
    return { code: e.code, message: e.message, details: e.details, ...(cause === undefined ? {} : { cause }) }
  }
}
const ok = { code: 'ok' }

const delta = { sourceSha256: 'c'.repeat(64), targetSha256: release().sha256, patchSha256: 'd'.repeat(64), patchLength: 50, format: 'slipway-delta-v1' }

t.test('each verifier returns the parsed document, its fields and the keyids that counted', async (t) => {
  const trust = trustFor()
  const r = verifyRelease(trust, await signed(releaseDoc(), [k.release[1]!]))
  t.same(r.release, release())
  t.equal(r.signed._type, 'targets')
  t.same(r.keyIds, [k.release[1]!.keyId])
  const d = verifyDelta(trust, await signed(buildDelta(delta, { expires: expiresIn(DAY) }), k.online))
  t.same(d.delta, delta)
  t.equal(d.signed._type, 'delta')
  t.same(d.keyIds, [k.online[0]!.keyId])
  const a = verifyAssignment(trust, await signed(assignmentDoc(), k.online), { deviceId: 'dev-001' })
  t.same(a.assignment, assignment())
  t.equal(a.signed._type, 'assignment')
  t.same(a.keyIds, [k.online[0]!.keyId])
})

t.test('each document is checked against its own role', async (t) => {
  const trust = trustFor()
  const unknown = (role: string) => ({
    code: 'SIGNATURE_UNKNOWN_KEY',
    message: `signed only by keys ${role} does not list (0/1 valid)`,
    details: { role, valid: 0, threshold: 1 },
  })
  const relByOnline = await signed(releaseDoc(), k.online)
  t.same(outcome(() => verifyRelease(trust, relByOnline)), unknown('release'), 'a release signed by the server key')
  const deltaByCi = await signed(buildDelta(delta, { expires: expiresIn(DAY) }), k.release)
  t.same(outcome(() => verifyDelta(trust, deltaByCi)), unknown('online'), 'a delta signed by CI')
  const asgByCi = await signed(assignmentDoc(), k.release)
  t.same(outcome(() => verifyAssignment(trust, asgByCi, { deviceId: 'dev-001' })), unknown('online'), 'an assignment signed by CI')
})

t.test('documents: the size cap, the clock and the grace come from the trusted root’s options', async (t) => {
  // a release larger than the pinned root, so that a cap between the two applies to it alone
  const boards = Array.from({ length: 200 }, (_, i) => `board-with-a-long-name-${i}`)
  const doc = await signed(releaseDoc(release({ hardware: boards }), expiresIn(-60)), k.release)
  t.ok(doc.length - 1 > v1.length, `the release (${doc.length} B) is larger than the root (${v1.length} B)`)
  t.same(outcome(() => verifyRelease(trustFor({ maxBytes: doc.length }), doc)).code, 'METADATA_EXPIRED', 'exactly at the cap it is read (and found expired)')
  t.same(outcome(() => verifyRelease(trustFor({ maxBytes: doc.length - 1 }), doc)).code, 'DOC_TOO_LARGE')
  t.same(outcome(() => verifyRelease(trustFor({ expiryGraceSeconds: 3600 }), doc)), ok, 'expired a minute ago, inside an hour of grace')
  const expired = outcome(() => verifyRelease(trustFor({ expiryGraceSeconds: 30 }), doc))
  t.equal(expired.code, 'METADATA_EXPIRED', 'outside 30 s of grace')
  t.match(expired.details, { type: 'targets', graceSeconds: 30 })
  const fresh = await signed(releaseDoc(release(), expiresIn(DAY)), k.release)
  t.same(outcome(() => verifyRelease(trustFor({ now: () => new Date(Date.now() + 2 * DAY * 1000) }), fresh)).code, 'METADATA_EXPIRED', 'the clock given, not the real one')
  const late = trustFor({ now: () => new Date(Date.now() + 2 * DAY * 1000) })
  const d = await signed(buildDelta(delta, { expires: expiresIn(DAY) }), k.online)
  t.equal(outcome(() => verifyDelta(late, d)).code, 'METADATA_EXPIRED', 'deltas too')
  const a = await signed(assignmentDoc(), k.online)
  t.equal(outcome(() => verifyAssignment(late, a, { deviceId: 'dev-001' })).code, 'METADATA_EXPIRED', 'assignments too')
})

t.test('assignments: bound to the device, the counter strictly above the last one', async (t) => {
  const trust = trustFor()
  const doc = await signed(assignmentDoc(assignment({ counter: 7 })), k.online)
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001' })), ok, 'first contact: no last counter')
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: 6 })), ok, 'one above')
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: 0 })), ok)
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: 7 })), {
    code: 'ASSIGNMENT_REPLAY',
    message: 'assignment counter 7 is not above 7',
    details: { counter: 7, lastCounter: 7 },
  }, 'the same counter again')
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: 8 })), {
    code: 'ASSIGNMENT_REPLAY',
    message: 'assignment counter 7 is not above 8',
    details: { counter: 7, lastCounter: 8 },
  })
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-002', lastCounter: 6 })), {
    code: 'ASSIGNMENT_WRONG_DEVICE',
    message: 'assignment is for device dev-001',
    details: { deviceId: 'dev-001', expected: 'dev-002' },
  })
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: -1 })), {
    code: 'OPTIONS_INVALID',
    message: 'verification option lastCounter must be a whole number >= 0, got -1',
    details: { option: 'lastCounter' },
  }, 'a broken last counter never disables the replay check')
  t.same(outcome(() => verifyAssignment(trust, doc, { deviceId: 'dev-001', lastCounter: NaN })).code, 'OPTIONS_INVALID')
  const zero = await signed(assignmentDoc(assignment({ counter: 0 })), k.online)
  t.same(outcome(() => verifyAssignment(trust, zero, { deviceId: 'dev-001' })), ok, 'counter 0 on first contact')
  t.same(outcome(() => verifyAssignment(trust, zero, { deviceId: 'dev-001', lastCounter: 0 })).code, 'ASSIGNMENT_REPLAY')
})

t.test('the pinned root: its own threshold, the size cap, getters', async (t) => {
  const one = await signed(rootSigned(k), [k.root[0]!])
  t.same(outcome(() => TrustedRoot.fromPinned(one)), {
    code: 'THRESHOLD_NOT_MET',
    message: 'root needs 2 keys (1/2 valid)',
    details: { role: 'root', valid: 1, threshold: 2 },
  })
  t.equal(outcome(() => TrustedRoot.fromPinned(v1, { maxBytes: v1.length - 1 })).code, 'DOC_TOO_LARGE')
  t.same(outcome(() => TrustedRoot.fromPinned(v1, { maxBytes: v1.length })), ok)
  t.equal(outcome(() => TrustedRoot.fromPinned(v1, { maxBytes: 0 })).code, 'OPTIONS_INVALID', 'options are checked')
  const trust = trustFor()
  t.equal(trust.version, 1)
  t.same(trust.signed, rootSigned(k, { expires: trust.signed.expires }))
  t.equal(trust.role('release').threshold, 1)
  t.equal(trust.role('root').threshold, 2)
  t.same([...trust.role('release').keys.keys()].sort(), k.release.map((s) => s.keyId).sort())
  t.same([...trust.role('online').keys.keys()], [k.online[0]!.keyId])
  for (const r of ['root', 'release', 'online'] as const) t.same([...trust.revoked(r)], [], `nothing revoked from ${r} yet`)
  t.equal(trust.options.maxBytes, 1024 * 1024)
})

t.test('key types are restricted per role, only for the roles named', async (t) => {
  const trust = trustFor({ allowedKeyTypes: { online: ['ecdsa'] } })
  const rel = await signed(releaseDoc(), k.release)
  t.same(outcome(() => verifyRelease(trust, rel)), ok, 'release keys are not restricted')
  const byEd25519 = await signed(assignmentDoc(), k.online)
  t.same(outcome(() => verifyAssignment(trust, byEd25519, { deviceId: 'dev-001' })), {
    code: 'KEY_TYPE_NOT_ALLOWED',
    message: 'signed by 1 key(s) of a type online may not use (0/1 valid)',
    details: { role: 'online', valid: 0, threshold: 1 },
  })
  t.same(outcome(() => TrustedRoot.fromPinned(v1, { allowedKeyTypes: { root: ['ecdsa'] } })).code, 'KEY_TYPE_NOT_ALLOWED', 'the pinned root too')
  t.same(outcome(() => TrustedRoot.fromPinned(v1, { allowedKeyTypes: { root: ['ed25519', 'ecdsa'] } })), ok, 'both root signers are allowed')
})

t.test('root updates: each refusal says which root, why, and keeps its cause', async (t) => {
  const k2: RootKeys = { ...k, root: [k.root[0]!, FileKeySigner.generate('ed25519'), FileKeySigner.generate('ed25519')] }
  const r2 = rootSigned(k2, { version: 2 })
  const byOld = await signed(r2, [k.root[0]!, k.root[2]!]) // old threshold: k.root[0] and [2]; new: only [0]
  t.same(outcome(() => trustFor().update(byOld)), {
    code: 'ROOT_NOT_SELF_SIGNED',
    message: 'root v2 lacks its own root threshold',
    details: { version: 2, reason: 'THRESHOLD_NOT_MET' },
    cause: 'THRESHOLD_NOT_MET',
  })
  const byNew = await signed(r2, [k2.root[1]!, k2.root[2]!])
  t.same(outcome(() => trustFor().update(byNew)), {
    code: 'ROOT_NOT_SIGNED_BY_PREVIOUS',
    message: 'root v2 lacks the root threshold of trusted v1',
    details: { version: 2, trusted: 1, reason: 'SIGNATURE_UNKNOWN_KEY' },
    cause: 'SIGNATURE_UNKNOWN_KEY',
  })
  const good = await signed(r2, [k.root[0]!, k.root[1]!, k2.root[1]!])
  const skip = await signed(rootSigned(k2, { version: 3 }), [k.root[0]!, k.root[1]!, k2.root[1]!])
  t.same(outcome(() => trustFor().update(skip)), {
    code: 'ROOT_VERSION_NOT_CONSECUTIVE',
    message: 'root v3 does not follow trusted v1',
    details: { version: 3, trusted: 1 },
  })
  t.same(outcome(() => trustFor().update(v1)), {
    code: 'ROOT_VERSION_NOT_CONSECUTIVE',
    message: 'root v1 does not follow trusted v1',
    details: { version: 1, trusted: 1 },
  })
  const trust = trustFor()
  trust.update(good)
  t.equal(trust.version, 2)
  t.same([...trust.role('root').keys.keys()].sort(), k2.root.map((s) => s.keyId).sort(), 'the new root keys are in force')
  t.same(outcome(() => trust.update(skip)), ok, 'and the next version follows it')
  t.equal(trust.version, 3)
})

t.test('revoked keys: per role, remembered across the walk, forgotten when listed again', async (t) => {
  const [a, b] = k.release as [FileKeySigner, FileKeySigner]
  const c = FileKeySigner.generate('ed25519')
  const rootKeys = k.root.slice(0, 2)
  const r2 = await signed(rootSigned({ ...k, release: [b] }, { version: 2 }), rootKeys) // a removed
  const r3 = await signed(rootSigned({ ...k, release: [b, c], online: [c] }, { version: 3 }), rootKeys) // online key replaced by c
  const r4 = await signed(rootSigned({ ...k, release: [a, b], online: [c] }, { version: 4 }), rootKeys) // a listed again
  const relByA = await signed(releaseDoc(), [a])
  const asgByOld = await signed(assignmentDoc(), k.online)
  const asgByC = await signed(assignmentDoc(), [c])

  const at2 = TrustedRoot.walk(v1, [r2])
  t.same([...at2.revoked('release')], [a.keyId])
  t.same([...at2.revoked('online')], [], 'other roles lost nothing')
  t.same([...at2.revoked('root')], [])
  t.same(outcome(() => verifyRelease(at2, relByA)), {
    code: 'SIGNATURE_REVOKED_KEY',
    message: 'signed by 1 key(s) revoked from release (0/1 valid)',
    details: { role: 'release', valid: 0, threshold: 1 },
  })

  const at3 = TrustedRoot.walk(v1, [r2, r3])
  t.same([...at3.revoked('release')], [a.keyId], 'still revoked a version later')
  t.same([...at3.revoked('online')], [k.online[0]!.keyId])
  t.equal(outcome(() => verifyAssignment(at3, asgByOld, { deviceId: 'dev-001' })).code, 'SIGNATURE_REVOKED_KEY')
  t.same(outcome(() => verifyAssignment(at3, asgByC, { deviceId: 'dev-001' })), ok, 'the new online key is in force')
  t.equal(outcome(() => verifyAssignment(trustFor(), asgByC, { deviceId: 'dev-001' })).code, 'SIGNATURE_UNKNOWN_KEY', 'and was not before')

  const at4 = TrustedRoot.walk(v1, [r2, r3, r4])
  t.same([...at4.revoked('release')], [c.keyId], 'a listed again: trusted again; c, dropped by v4, revoked')
  t.same(outcome(() => verifyRelease(at4, relByA)), ok)
  t.same([...at4.revoked('online')], [k.online[0]!.keyId])
})

t.test('signatures are checked before the content is read', async (t) => {
  const trust = trustFor()
  // a well signed document of the wrong type, and a wrong-type document signed by nobody it trusts
  const deltaDoc = buildDelta(delta, { expires: expiresIn(DAY) })
  const env = await signEnvelope(deltaDoc, [FileKeySigner.generate('ed25519')])
  t.equal(outcome(() => verifyRelease(trust, encodeEnvelope(env))).code, 'SIGNATURE_UNKNOWN_KEY', 'not DOC_WRONG_TYPE')
  const wrongType = await signed(deltaDoc, k.release)
  t.equal(outcome(() => verifyRelease(trust, wrongType)).code, 'DOC_WRONG_TYPE')
})

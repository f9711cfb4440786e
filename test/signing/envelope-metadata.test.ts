import t from 'tap'
import { canonicalBytes } from '../../signing/canonical-json.js'
import { decodeEnvelope, encodeEnvelope, signEnvelope, addSignatures } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { decodeKey, keyIdOf, verifySignature } from '../../signing/keys.js'
import { buildDelta, parseDelta } from '../../signing/metadata/delta.js'
import { parseAssignment } from '../../signing/metadata/assignment.js'
import { parseRelease } from '../../signing/metadata/release.js'
import { parseRoot } from '../../signing/metadata/root.js'
import { expiresIn, formatExpires } from '../../signing/metadata/common.js'
import { assignment, assignmentDoc, keys, release, releaseDoc, rootSigned } from './fixtures.js'

t.test('TUF envelope: signatures over canonical signed bytes, sorted, one per key', async (t) => {
  const a = FileKeySigner.generate('ed25519')
  const b = FileKeySigner.generate('ecdsa')
  const doc = releaseDoc()
  const env = await signEnvelope(doc, [b, a, a])
  t.equal(env.signatures.length, 2)
  t.ok(env.signatures[0]!.keyid < env.signatures[1]!.keyid, 'sorted by keyid')
  const bytes = encodeEnvelope(env)
  const back = decodeEnvelope(bytes, 1 << 20)
  t.same(back.signedBytes, canonicalBytes(doc))
  for (const s of back.signatures) {
    const signer = s.keyid === a.keyId ? a : b
    t.ok(verifySignature(decodeKey(signer.publicKey, s.keyid), back.signedBytes, s.sig))
  }
  const more = await addSignatures({ signed: doc, signatures: [env.signatures[0]!] }, [a, b])
  t.equal(more.signatures.length, 2, 'adding again replaces, not duplicates')
})

t.test('keys: TUF wire form and keyid', async (t) => {
  const ed = FileKeySigner.generate('ed25519').publicKey
  t.match(ed, { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: /^[0-9a-f]{64}$/ } })
  const ec = FileKeySigner.generate('ecdsa').publicKey
  t.match(ec, { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: /^-----BEGIN PUBLIC KEY-----/ } })
  t.throws(() => decodeKey(ed, 'f'.repeat(64)), { code: 'KEY_MALFORMED' }, 'keyid must be the hash of the key')
  t.throws(() => decodeKey({ ...ed, scheme: 'ecdsa-sha2-nistp256' }), { code: 'KEY_TYPE_NOT_ALLOWED' }, 'scheme/keytype mismatch')
  t.throws(() => decodeKey({ keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: 'x' } }), { code: 'KEY_TYPE_NOT_ALLOWED' })
  t.throws(() => decodeKey({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: 'nope' } }), { code: 'KEY_MALFORMED' })
  t.equal(keyIdOf(ed), decodeKey(ed).keyId)
})

t.test('root builder: roles, thresholds, TUF alias roles', async (t) => {
  const k = keys()
  const root = rootSigned(k, { version: 4 })
  t.match(root, { _type: 'root', spec_version: /^1\.0\./, version: 4, consistent_snapshot: false })
  t.match(root.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  t.equal(root.roles.root.threshold, 2)
  t.same(root.roles.targets, root.roles.release)
  t.same(root.roles.timestamp, root.roles.online)
  t.equal(Object.keys(root.keys).length, 6)
  t.same(parseRoot(JSON.parse(JSON.stringify(root))), root)
  t.throws(() => rootSigned(k, { thresholds: { root: 4 } }), { code: 'CEREMONY_INVALID' }, 'threshold above key count')
  t.throws(() => rootSigned(k, { thresholds: { release: 0 } }), { code: 'CEREMONY_INVALID' })
  const bad = JSON.parse(JSON.stringify(root))
  bad.roles.targets = bad.roles.root
  t.throws(() => parseRoot(bad), { code: 'ROOT_INCONSISTENT' }, 'alias must equal our role')
  delete bad.roles.online
  t.throws(() => parseRoot(bad), { code: 'DOC_MALFORMED' })
})

t.test('release, delta and assignment builders round-trip through their parsers', async (t) => {
  const r = release()
  const doc = releaseDoc(r)
  t.equal(doc._type, 'targets')
  t.same(Object.keys(doc.targets), ['edge-os/2.1.0'])
  t.same(doc.targets['edge-os/2.1.0']!.hashes, { sha256: r.sha256 })
  t.same(parseRelease(JSON.parse(JSON.stringify(doc))).release, r)
  t.throws(() => releaseDoc(release({ kind: 'firmware' as 'model' })), { code: 'DOC_MALFORMED' })
  t.throws(() => releaseDoc(release({ securityVersion: -1 })), { code: 'DOC_MALFORMED' })
  t.throws(() => releaseDoc(release({ sha256: 'abc' })), { code: 'DOC_MALFORMED' })

  const d = { sourceSha256: 'c'.repeat(64), targetSha256: r.sha256, patchSha256: 'd'.repeat(64), patchLength: 1234, format: 'bsdiff40-windowed' }
  const dd = buildDelta(d, { expires: expiresIn(3600) })
  t.equal(dd._type, 'delta')
  t.same(parseDelta(dd).delta, d)

  const a = assignment({ delta: d })
  const ad = assignmentDoc(a)
  t.equal(ad.version, 7, 'TUF version follows the counter')
  t.same(parseAssignment(JSON.parse(JSON.stringify(ad))).assignment, a)
  t.throws(() => parseAssignment({ ...ad, deviceId: '' }), { code: 'DOC_MALFORMED' })
  t.throws(() => parseAssignment({ ...ad, _type: 'delta' }), { code: 'DOC_WRONG_TYPE' })
  t.equal(formatExpires(new Date('2030-01-02T03:04:05.678Z')), '2030-01-02T03:04:05Z')
})

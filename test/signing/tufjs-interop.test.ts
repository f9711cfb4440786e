/**
 * Proof that standard TUF tooling reads our metadata: @tufjs/models, an
 * independent implementation, parses our root and release documents and checks
 * their signatures (root by root keys, release by the `release` role and by its
 * TUF alias `targets`), for Ed25519 and ECDSA P-256 keys alike.
 */
import t from 'tap'
import { Metadata, MetadataKind, type Root, type Targets } from '@tufjs/models'
import { canonicalWire } from '../../signing/canonical-json.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { TrustedRoot, verifyRelease } from '../../signing/verify/index.js'
import { keys, release, releaseDoc, rootSigned, signed, type RootKeys } from './fixtures.js'

for (const type of ['ed25519', 'ecdsa'] as const) {
  t.test(`@tufjs/models verifies our root and release (${type} first)`, async (t) => {
    const k = keys({ root: 3, release: 2, online: 1 }, type)
    const rootBytes = await signed(rootSigned(k, { thresholds: { release: 2 } }), k.root)
    const relBytes = await signed(releaseDoc(), k.release)

    // Our verifier.
    const trust = TrustedRoot.walk(rootBytes, [])
    t.same(verifyRelease(trust, relBytes).release, release())

    // Theirs.
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(rootBytes.toString('utf8'))) as Metadata<Root>
    t.doesNotThrow(() => root.verifyDelegate('root', root), 'root is signed by its root threshold')
    t.equal(root.signed.roles.targets?.threshold, 2)
    const rel = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(relBytes.toString('utf8'))) as Metadata<Targets>
    t.doesNotThrow(() => root.verifyDelegate('release', rel), 'release role')
    t.doesNotThrow(() => root.verifyDelegate('targets', rel), 'TUF targets alias')
    const target = rel.signed.targets['edge-os/2.1.0']
    t.equal(target?.length, release().length)
    t.same(target?.hashes, { sha256: release().sha256 })
    const { sha256: _h, length: _l, ...custom } = release()
    t.same(target?.custom, custom, 'our fields ride in custom')

    // Both refuse the same tampering.
    const doc = JSON.parse(relBytes.toString('utf8'))
    doc.signed.targets['edge-os/2.1.0'].custom.securityVersion = 0
    const tampered = Metadata.fromJSON(MetadataKind.Targets, doc) as Metadata<Targets>
    // tufjs errors carry no code and its UnsignedMetadataError is not exported: its message is what names it
    t.throws(() => root.verifyDelegate('release', tampered), { message: /^release was signed by \d+\/\d+ keys$/ }, 'tufjs refuses')
    t.throws(() => verifyRelease(trust, Buffer.from(canonicalWire(doc))), { code: 'SIGNATURE_INVALID' }, 'we refuse')
  })
}

t.test('@tufjs/models follows our root rotation', async (t) => {
  const k = keys()
  const v1 = await signed(rootSigned(k), k.root.slice(0, 2))
  const k2: RootKeys = { ...k, root: [FileKeySigner.generate('ecdsa'), FileKeySigner.generate('ed25519')] }
  const v2 = await signed(rootSigned(k2, { version: 2, thresholds: { root: 2 } }), [...k.root.slice(0, 2), ...k2.root])
  const m1 = Metadata.fromJSON(MetadataKind.Root, JSON.parse(v1.toString())) as Metadata<Root>
  const m2 = Metadata.fromJSON(MetadataKind.Root, JSON.parse(v2.toString())) as Metadata<Root>
  t.doesNotThrow(() => m1.verifyDelegate('root', m2), 'old threshold')
  t.doesNotThrow(() => m2.verifyDelegate('root', m2), 'new threshold')
  t.equal(TrustedRoot.walk(v1, [v2]).version, 2, 'and so do we')
})

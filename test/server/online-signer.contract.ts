/** One contract for the OnlineSigner port, run on the file and the PKCS#11 adapter. */
import type { Test } from 'tap'
import { createRoot, FileKeySigner, verify, type TufKey } from '../../signing/index.js'
import type { OnlineSigner } from '../../server/domain/ports/infrastructure.js'

const sha = (c: string) => c.repeat(64)

export function onlineSignerContract(t: Test, open: () => Promise<{ signer: OnlineSigner; publicKey: TufKey }>, keyKind: OnlineSigner['keyKind']): void {
  let signer: OnlineSigner
  let trust: verify.TrustedRoot
  t.before(async () => {
    const opened = await open()
    signer = opened.signer
    const root = FileKeySigner.generate('ed25519')
    const ci = FileKeySigner.generate('ed25519')
    const bytes = await createRoot(
      { roles: { root: { keys: [root.publicKey], threshold: 1 }, release: { keys: [ci.publicKey], threshold: 1 }, online: { keys: [opened.publicKey], threshold: 1 } } },
      [root],
    )
    trust = verify.TrustedRoot.walk(bytes, [])
  })
  t.teardown(() => signer.close())

  t.test('identity', async (t) => {
    t.equal(signer.keyKind, keyKind)
    t.match(signer.keyId, /^[0-9a-f]{64}$/)
    t.ok(trust.role('online').keys.has(signer.keyId))
  })

  t.test('signAssignment: a device verifies it, bound to its id and counter', async (t) => {
    const a = { deviceId: 'dev-7', release: { name: 'rootfs', version: '1.4.0', sha256: sha('a') }, rolloutId: 'ro-1', counter: 3 }
    const bytes = await signer.signAssignment(a)
    const v = verify.verifyAssignment(trust, bytes, { deviceId: 'dev-7', lastCounter: 2 })
    t.same(v.assignment, a)
    t.same(v.keyIds, [signer.keyId])
    t.throws(() => verify.verifyAssignment(trust, bytes, { deviceId: 'dev-8' }), { code: 'ASSIGNMENT_WRONG_DEVICE' })
  })

  t.test('signDelta: a device verifies it; expiry is honoured', async (t) => {
    const d = { sourceSha256: sha('1'), targetSha256: sha('2'), patchSha256: sha('3'), patchLength: 4096, format: 'slipway-delta-v1' }
    const bytes = await signer.signDelta(d, { expires: '2099-01-01T00:00:00Z' })
    const v = verify.verifyDelta(trust, bytes)
    t.same(v.delta, d)
    t.equal(v.signed.expires, '2099-01-01T00:00:00Z')
    const stale = await signer.signDelta(d, { expires: '2001-01-01T00:00:00Z' })
    t.throws(() => verify.verifyDelta(trust, stale), { code: 'METADATA_EXPIRED' })
  })

  t.test('concurrent signatures all verify', async (t) => {
    const docs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        signer.signAssignment({ deviceId: `dev-${i}`, release: { name: 'm', version: '1.0.0', sha256: sha('b') }, rolloutId: 'ro', counter: i }),
      ),
    )
    docs.forEach((bytes, i) => t.equal(verify.verifyAssignment(trust, bytes, { deviceId: `dev-${i}` }).assignment.counter, i))
  })
}

/**
 * Tests for mutants that survived a hand-planted mutation run (issue 18): each would
 * pass the rest of the suite with the named check removed.
 */
import t from 'tap'
import { encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { expiresIn } from '../../signing/metadata/common.js'
import { TrustedRoot, verifyRelease } from '../../signing/verify/index.js'
import { DAY, keys, releaseDoc, rootSigned, signed, type RootKeys } from './fixtures.js'

const k = keys()

t.test('one keyid listed twice is refused even when the threshold is 1 (threshold.ts duplicate-keyid check)', async (t) => {
  const trust = TrustedRoot.fromPinned(await signed(rootSigned(k, { thresholds: { release: 1 } }), k.root.slice(0, 2)))
  const one = await signEnvelope(releaseDoc(), [k.release[0]!])
  t.ok(verifyRelease(trust, encodeEnvelope(one)).release, 'one signature meets threshold 1')
  const twice = encodeEnvelope({ ...one, signatures: [one.signatures[0]!, one.signatures[0]!] })
  t.throws(() => verifyRelease(trust, twice), { code: 'SIGNATURE_DUPLICATE' }, 'the same keyid twice is refused, not counted once')
  const withStranger = await signEnvelope(releaseDoc(), [FileKeySigner.generate('ed25519')])
  const mixed = encodeEnvelope({ ...one, signatures: [one.signatures[0]!, withStranger.signatures[0]!, one.signatures[0]!] })
  t.throws(() => verifyRelease(trust, mixed), { code: 'SIGNATURE_DUPLICATE' }, 'also with another signature between the two')
})

t.test('walk checks freshness on the final root, not the pinned one (trusted-root.ts)', async (t) => {
  const k2: RootKeys = { ...k, root: [k.root[0]!, k.root[1]!, FileKeySigner.generate('ed25519')] }
  // an expired pinned root that walks to a fresh v2: accepted (a device offline for a year recovers)
  const expiredV1 = await signed(rootSigned(k, { expires: expiresIn(-30 * DAY) }), k.root.slice(0, 2))
  const freshV2 = await signed(rootSigned(k2, { version: 2 }), [k.root[0]!, k.root[1]!])
  const walked = TrustedRoot.walk(expiredV1, [freshV2])
  t.equal(walked.version, 2, 'the expired pinned root is only a starting point')
  // a fresh pinned root that walks to an expired v2: refused
  const freshV1 = await signed(rootSigned(k), k.root.slice(0, 2))
  const expiredV2 = await signed(rootSigned(k2, { version: 2, expires: expiresIn(-30 * DAY) }), [k.root[0]!, k.root[1]!])
  t.throws(() => TrustedRoot.walk(freshV1, [expiredV2]), { code: 'METADATA_EXPIRED' }, 'the final root must be fresh')
  // and with nothing to walk, the pinned root is the final one
  t.throws(() => TrustedRoot.walk(expiredV1, []), { code: 'METADATA_EXPIRED' })
})

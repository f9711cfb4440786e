/**
 * What a threshold refusal carries besides its code (signing/verify/threshold.ts): a
 * message naming the role and the count, and details a caller can act on. Written for
 * the mutants Stryker found surviving there (npm run mutate -- --area verify).
 */
import t from 'tap'
import { encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import { keyIdOf, type TufKey } from '../../signing/keys.js'
import type { Signer } from '../../signing/signer.js'
import { TrustedRoot, verifyRelease } from '../../signing/verify/index.js'
import { keys, releaseDoc, rootSigned, signed, type RootKeys } from './fixtures.js'

const k = keys()
const trustWith = async (release: number) =>
  TrustedRoot.fromPinned(await signed(rootSigned(k, { thresholds: { release } }), k.root.slice(0, 2)))
const refusal = (trust: TrustedRoot, bytes: Uint8Array) => {
  try {
    return { accepted: verifyRelease(trust, bytes) }
  } catch (e) {
    return e as { code: string; message: string; details?: Record<string, unknown> }
  }
}

t.test('no signature at all is too few keys, not unknown keys', async (t) => {
  const none = encodeEnvelope({ ...(await signEnvelope(releaseDoc(), [k.release[0]!])), signatures: [] })
  t.match(refusal(await trustWith(1), none), {
    code: 'THRESHOLD_NOT_MET',
    message: 'release needs 1 keys (0/1 valid)',
    details: { role: 'release', valid: 0, threshold: 1 },
  })
})

t.test('one valid key of two needed', async (t) => {
  const one = encodeEnvelope(await signEnvelope(releaseDoc(), [k.release[0]!]))
  t.match(refusal(await trustWith(2), one), {
    code: 'THRESHOLD_NOT_MET',
    message: 'release needs 2 keys (1/2 valid)',
    details: { role: 'release', valid: 1, threshold: 2 },
  })
})

t.test('the same keyid twice names the key', async (t) => {
  const one = await signEnvelope(releaseDoc(), [k.release[0]!])
  const sig = one.signatures[0]!
  t.match(refusal(await trustWith(1), encodeEnvelope({ ...one, signatures: [sig, sig] })), {
    code: 'SIGNATURE_DUPLICATE',
    message: `key ${sig.keyid} signed twice`,
    details: { role: 'release', keyId: sig.keyid },
  })
})

t.test('a listed key whose signature does not verify', async (t) => {
  const one = await signEnvelope(releaseDoc(), [k.release[0]!])
  const elsewhere = await signEnvelope(rootSigned(k), [k.release[0]!]) // the same key over another document
  t.match(refusal(await trustWith(1), encodeEnvelope({ ...one, signatures: elsewhere.signatures })), {
    code: 'SIGNATURE_INVALID',
    message: '1 signature(s) by release keys do not verify (0/1 valid)',
    details: { role: 'release', valid: 0, threshold: 1 },
  })
})

t.test('only keys the role does not list', async (t) => {
  const stranger = encodeEnvelope(await signEnvelope(releaseDoc(), [FileKeySigner.generate('ed25519')]))
  t.match(refusal(await trustWith(1), stranger), {
    code: 'SIGNATURE_UNKNOWN_KEY',
    message: 'signed only by keys release does not list (0/1 valid)',
  })
})

t.test('a key revoked by a rotation', async (t) => {
  const [kept, revoked] = k.release as [FileKeySigner, FileKeySigner]
  const v1 = await signed(rootSigned(k), k.root.slice(0, 2))
  const k2: RootKeys = { ...k, release: [kept] }
  const trust = TrustedRoot.walk(v1, [await signed(rootSigned(k2, { version: 2 }), k.root.slice(0, 2))])
  t.match(refusal(trust, await signed(releaseDoc(), [revoked])), {
    code: 'SIGNATURE_REVOKED_KEY',
    message: 'signed by 1 key(s) revoked from release (0/1 valid)',
  })
})

t.test('a key of a type the role may not use', async (t) => {
  const root = await signed(rootSigned(k), k.root.slice(0, 2))
  const trust = TrustedRoot.fromPinned(root, { allowedKeyTypes: { release: ['ecdsa'] } })
  t.match(refusal(trust, await signed(releaseDoc(), [k.release[0]!])), {
    code: 'KEY_TYPE_NOT_ALLOWED',
    message: 'signed by 1 key(s) of a type release may not use (0/1 valid)',
  })
})

t.test('one key under two keyids counts once, and the message says how many keyids', async (t) => {
  const ec = FileKeySigner.generate('ecdsa')
  const alt: TufKey = { ...ec.publicKey, keyval: { public: ec.publicKey.keyval.public.trimEnd() } } // the PEM spelt another way
  const asAlt: Signer = { keyId: keyIdOf(alt), publicKey: alt, sign: (d) => ec.sign(d) }
  const kk: RootKeys = { ...k, release: [ec, asAlt] }
  const trust = TrustedRoot.fromPinned(await signed(rootSigned(kk, { thresholds: { release: 2 } }), k.root.slice(0, 2)))
  t.match(refusal(trust, await signed(releaseDoc(), kk.release)), {
    code: 'SIGNATURE_DUPLICATE',
    message: 'one release key signed under 2 keyids (1/2 valid)',
    details: { role: 'release', valid: 1, threshold: 2 },
  })
})

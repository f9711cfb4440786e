/**
 * The one contract every `Signer` adapter must meet (cf. tus-node-server's shared
 * store tests): run on the file adapter and on the PKCS#11 adapter.
 */
import { createHash, verify } from 'node:crypto'
import { decodeKey, keyIdOf, type KeyType } from '../../signing/keys.js'
import type { Signer } from '../../signing/signer.js'

import type { Test } from 'tap'

type T = Test

export async function signerContract(t: T, make: () => Promise<Signer>, type: KeyType): Promise<void> {
  const s = await make()
  t.equal(s.publicKey.keytype, type, 'keytype')
  t.equal(s.publicKey.scheme, type === 'ed25519' ? 'ed25519' : 'ecdsa-sha2-nistp256', 'scheme')
  t.equal(s.keyId, keyIdOf(s.publicKey), 'keyId = sha256 of canonical public key')
  const { canonicalize: independent } = (await import('@tufjs/canonical-json')) as { canonicalize: (v: unknown) => string }
  t.equal(s.keyId, createHash('sha256').update(independent(s.publicKey)).digest('hex'), 'same keyid as @tufjs/canonical-json gives')
  const key = decodeKey(s.publicKey, s.keyId)
  const data = Buffer.from('slipway signer contract ' + Math.random())
  const sig = await s.sign(data)
  t.ok(sig instanceof Uint8Array)
  if (type === 'ed25519') {
    t.equal(sig.length, 64, 'Ed25519: 64 raw bytes')
    t.ok(verify(null, data, key.object, sig), 'verifies with node crypto')
  } else {
    t.equal(sig[0], 0x30, 'ECDSA: DER SEQUENCE')
    t.ok(verify('sha256', data, key.object, sig), 'verifies as DER ECDSA/SHA-256')
  }
  t.notOk(verify(type === 'ed25519' ? null : 'sha256', Buffer.concat([data, Buffer.from('x')]), key.object, sig), 'bound to the data')
  const sigs = await Promise.all(Array.from({ length: 8 }, (_, i) => s.sign(Buffer.from(`concurrent ${i}`))))
  sigs.forEach((g, i) => t.ok(verify(type === 'ed25519' ? null : 'sha256', Buffer.from(`concurrent ${i}`), key.object, g), `concurrent sign ${i}`))
}


import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import t from 'tap'
import { importSpki } from '../../signing/spki-import.js'

const spki = (k: import('node:crypto').KeyObject) => k.export({ format: 'der', type: 'spki' })

t.test('Ed25519 and P-256 keys import to the same key as the DER decoder gives', async (t) => {
  for (const [type, opts, alg] of [['ed25519', undefined, null], ['ec', { namedCurve: 'P-256' }, 'sha256']] as const) {
    const pair = generateKeyPairSync(type as 'ed25519', opts as undefined)
    const der = spki(pair.publicKey)
    const key = importSpki(der)
    t.same(spki(key), der, `${type}: the imported key exports to the same SPKI`)
    t.equal(key.asymmetricKeyType, type)
    const sig = sign(alg, Buffer.from('hello'), pair.privateKey)
    t.ok(verify(alg, Buffer.from('hello'), key, sig), `${type}: a signature verifies with the imported key`)
    t.notOk(verify(alg, Buffer.from('hellO'), key, sig), `${type}: and another message does not`)
  }
})

t.test('other keys go through the DER decoder; a P-256 point off the curve is refused', async (t) => {
  const p384 = spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)
  t.same(spki(importSpki(p384)), p384, 'a P-384 key imports through DER')
  const bad = Buffer.from(spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey))
  bad[bad.length - 1]! ^= 1 // y no longer matches x
  t.throws(() => importSpki(bad), { code: 'ERR_CRYPTO_INVALID_JWK' }, 'the JWK import checks the point')
  t.throws(() => createPublicKey({ key: bad, format: 'der', type: 'spki' }), { code: 'ERR_OSSL_EVP_DECODE_ERROR' }, 'as the DER decoder does')
  t.throws(() => importSpki(Buffer.from('3000', 'hex')), { code: /ERR_OSSL/ }, 'garbage is refused by the DER decoder')
})

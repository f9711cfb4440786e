/**
 * PKCS#10 certification requests (RFC 2986): created on a device with its key
 * behind the Signer port; parsed and signature-checked by the device CA.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import forge from 'node-forge'
import { TrustError } from '../errors.js'
import { decodeKey, type KeyType } from '../keys.js'
import type { Signer } from '../signer.js'
import { algorithmIdentifier, keyTypeOfObject, keyTypeOfSigOid, verifyX509Signature } from './algorithms.js'
import { bits, bitStringBytes, children, fromPem, int, parse, seq, tlv, toPem } from './der.js'
import { name } from './name.js'

export interface ParsedCsr {
  /** subject commonName */
  commonName: string
  /** exact SubjectPublicKeyInfo DER, copied into the certificate */
  spki: Buffer
  publicKey: KeyObject
  keyType: KeyType
}

/** A CSR for `commonName` (the device id), signed with the device key. */
export async function createCsr(commonName: string, signer: Signer): Promise<string> {
  const key = decodeKey(signer.publicKey).object
  const spki = key.export({ format: 'der', type: 'spki' })
  const info = seq(int(0), name({ commonName }), spki, tlv(0xa0)) // attributes [0]: none
  const sig = Buffer.from(await signer.sign(info))
  return toPem('CERTIFICATE REQUEST', seq(info, algorithmIdentifier(signer.publicKey.keytype), bits(sig)))
}

const bad = (why: string, cause?: unknown) => new TrustError('CERT_CSR_INVALID', `certificate request: ${why}`, undefined, { cause })

/** Parse a PEM CSR and check it is signed by the key it carries (proof of possession). */
export function parseCsr(pem: string): ParsedCsr {
  const der = fromPem(pem, 'CERTIFICATE REQUEST')
  let info: Buffer, alg: Buffer, sigBits: Buffer, spki: Buffer
  try {
    ;[info, alg, sigBits] = children(der) as [Buffer, Buffer, Buffer]
    spki = children(info)[2] as Buffer
  } catch (e) {
    throw bad('not a PKCS#10 structure', e)
  }
  if (!info || !alg || !sigBits || !spki) throw bad('not a PKCS#10 structure')
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  } catch (e) {
    throw bad('public key does not parse', e)
  }
  let type: KeyType
  try {
    type = keyTypeOfObject(publicKey)
  } catch (e) {
    throw new TrustError('CERT_CSR_KEY_NOT_ALLOWED', `certificate request: key ${publicKey.asymmetricKeyType ?? '?'} is not allowed: use ECDSA P-256 or Ed25519`, undefined, { cause: e })
  }
  let commonName: string | undefined
  let sigOid: string
  try {
    const algNode = parse(alg).value as forge.asn1.Asn1[]
    sigOid = forge.asn1.derToOid(algNode[0]!.value as string)
    const subject = (parse(info).value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[]
    for (const rdn of subject)
      for (const atv of rdn.value as forge.asn1.Asn1[]) {
        const [t, v] = atv.value as forge.asn1.Asn1[]
        if (forge.asn1.derToOid(t!.value as string) === '2.5.4.3') commonName = forge.util.decodeUtf8(v!.value as string)
      }
  } catch (e) {
    throw bad('fields do not parse', e)
  }
  if (!commonName) throw bad('no commonName')
  if (keyTypeOfSigOid(sigOid) !== type) throw bad(`signature algorithm ${sigOid} does not match the ${type} key`)
  let sig: Buffer
  try {
    sig = bitStringBytes(sigBits)
  } catch (e) {
    throw bad('signature is not a BIT STRING', e)
  }
  if (!verifyX509Signature(type, info, publicKey, sig))
    throw new TrustError('CERT_CSR_SIGNATURE_INVALID', 'certificate request: signature does not verify with its own key (no proof of key possession)')
  return { commonName, spki, publicKey, keyType: type }
}

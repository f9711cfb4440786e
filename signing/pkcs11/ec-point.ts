/**
 * PKCS#11 public keys to Node KeyObjects. `CKA_EC_POINT` is a DER OCTET STRING
 * wrapping the point (PKCS#11 v2.40 §2.3.3; v3.0 §2.3.6 for Edwards curves):
 * for P-256 the uncompressed `04‖X‖Y`, for Ed25519 the 32-byte key.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { TrustError } from '../errors.js'
import type { KeyType } from '../keys.js'

/** CKA_EC_PARAMS values (DER OIDs, or the curve name as a PrintableString). */
export const EC_PARAMS = {
  p256: Buffer.from('06082a8648ce3d030107', 'hex'),
  ed25519: Buffer.from('06032b6570', 'hex'),
  ed25519Name: Buffer.from('130c656477617264733235353139', 'hex'), // "edwards25519"
}

const SPKI_PREFIX: Record<KeyType, Buffer> = {
  ecdsa: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  ed25519: Buffer.from('302a300506032b6570032100', 'hex'),
}

function unwrapOctetString(der: Buffer): Buffer {
  if (der[0] !== 0x04) return der
  let len = der[1] as number
  let off = 2
  if (len & 0x80) {
    const n = len & 0x7f
    len = der.readUIntBE(2, n)
    off = 2 + n
  }
  if (off + len !== der.length) return der
  return der.subarray(off)
}

export function keyTypeOfParams(params: Buffer): KeyType {
  if (params.equals(EC_PARAMS.p256)) return 'ecdsa'
  if (params.equals(EC_PARAMS.ed25519) || params.equals(EC_PARAMS.ed25519Name)) return 'ed25519'
  throw new TrustError('KEY_TYPE_NOT_ALLOWED', `token key is on an unsupported curve (CKA_EC_PARAMS ${params.toString('hex')})`)
}

export function publicKeyFromEcPoint(type: KeyType, ecPoint: Buffer): KeyObject {
  const want = type === 'ecdsa' ? 65 : 32
  // Some modules return the bare point instead of the DER OCTET STRING.
  const point = ecPoint.length === want ? ecPoint : unwrapOctetString(ecPoint)
  if (point.length !== want) throw new TrustError('KEY_MALFORMED', `CKA_EC_POINT holds ${point.length} bytes, expected ${want}`)
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX[type], point]), format: 'der', type: 'spki' })
}

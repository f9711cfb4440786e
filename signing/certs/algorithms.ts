/**
 * X.509 signature algorithms for our two key types (RFC 5758 §3.2 ecdsa-with-SHA256,
 * RFC 8410 §3 Ed25519; both with absent parameters), and the Node verify call for each.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { TrustError } from '../errors.js'
import type { KeyType } from '../keys.js'
import { oid, seq } from './der.js'

export const SIG_OID: Record<KeyType, string> = { ecdsa: '1.2.840.10045.4.3.2', ed25519: '1.3.101.112' }

export const algorithmIdentifier = (type: KeyType): Buffer => seq(oid(SIG_OID[type]))

export function keyTypeOfObject(key: KeyObject): KeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa'
  throw new TrustError('CERT_CSR_INVALID', `unsupported key ${key.asymmetricKeyType ?? '?'}: use Ed25519 or ECDSA P-256`)
}

export function keyTypeOfSigOid(o: string): KeyType | undefined {
  return o === SIG_OID.ecdsa ? 'ecdsa' : o === SIG_OID.ed25519 ? 'ed25519' : undefined
}

export function verifyX509Signature(type: KeyType, data: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return cryptoVerify(type === 'ed25519' ? null : 'sha256', data, key, sig)
  } catch {
    return false
  }
}

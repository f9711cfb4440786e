/**
 * ECDSA signature encodings: PKCS#11 `CKM_ECDSA` returns raw r‖s (IEEE P1363);
 * TUF (securesystemslib) and X.509 use DER `SEQUENCE { INTEGER r, INTEGER s }`
 * (RFC 3279 §2.2.3).
 */
import { TrustError } from './errors.js'

function derInteger(bytes: Uint8Array): Buffer {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++ // minimal encoding
  let v = Buffer.from(bytes.subarray(i))
  if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v]) // stay positive
  return Buffer.concat([Buffer.from([0x02, v.length]), v])
}

/** Raw r‖s (P-256: 64 bytes) to DER. */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length !== 64) throw new TrustError('SIGNER_KEY_MISMATCH', `raw P-256 signature must be 64 bytes, got ${raw.length}`)
  const body = Buffer.concat([derInteger(raw.subarray(0, 32)), derInteger(raw.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

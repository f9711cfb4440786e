/**
 * Signs a device request (RFC 9421 message signature + RFC 9530 Content-Digest, the
 * profile in signing/message-signature.ts) with the device key. Every request gets a
 * fresh nonce, so every retry is signed again.
 */
import { randomBytes } from 'node:crypto'
import { contentDigest, ecdsaDerToRaw, SIGNATURE_LABEL, serializeParams, signatureBase, type SignatureParams } from '../../../signing/message-signature.js'
import type { DeviceKey } from './device-key.js'

export interface RequestToSign {
  method: string
  /** path and query as sent */
  target: string
  body?: Uint8Array | string
}

export async function signRequest(key: DeviceKey, keyid: string, r: RequestToSign, nowMs: number = Date.now()): Promise<Record<string, string>> {
  const digest = contentDigest(r.body)
  const params: SignatureParams = {
    created: Math.floor(nowMs / 1000),
    nonce: randomBytes(18).toString('base64url'),
    keyid,
    alg: key.keyType === 'ed25519' ? 'ed25519' : 'ecdsa-p256-sha256',
  }
  const base = Buffer.from(signatureBase({ method: r.method, target: r.target, contentDigest: digest }, params), 'utf8')
  const raw = await key.sign(base)
  const sig = key.keyType === 'ecdsa' ? ecdsaDerToRaw(raw) : Buffer.from(raw)
  return {
    'content-digest': digest,
    'signature-input': `${SIGNATURE_LABEL}=${serializeParams(params)}`,
    signature: `${SIGNATURE_LABEL}=:${sig.toString('base64')}:`,
  }
}

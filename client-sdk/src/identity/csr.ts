/**
 * A PKCS#10 certification request (RFC 2986) signed by the device key, written with
 * Node built-ins only (the server parses it with signing/certs). Subject: CN only.
 */
import { createPublicKey } from 'node:crypto'
import type { DeviceKey } from './device-key.js'

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const seq = (...c: Buffer[]) => tlv(0x30, ...c)

/** AlgorithmIdentifier DER: ecdsa-with-SHA256 (RFC 5758 §3.2), Ed25519 (RFC 8410 §3); parameters absent. */
const SIG_ALG = {
  ecdsa: Buffer.from('300a06082a8648ce3d040302', 'hex'),
  ed25519: Buffer.from('300506032b6570', 'hex'),
}
const CN_OID = Buffer.from('0603550403', 'hex')

export async function createCsr(commonName: string, key: DeviceKey): Promise<string> {
  const spki = createPublicKey(key.publicKeyPem).export({ format: 'der', type: 'spki' })
  const subject = seq(tlv(0x31, seq(CN_OID, tlv(0x0c, Buffer.from(commonName, 'utf8')))))
  const info = seq(tlv(0x02, Buffer.from([0])), subject, spki, tlv(0xa0))
  const sig = Buffer.from(await key.sign(info))
  const der = seq(info, SIG_ALG[key.keyType], tlv(0x03, Buffer.from([0]), sig))
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`
}

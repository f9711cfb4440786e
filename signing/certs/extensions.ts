/** The X.509 v3 extensions we write (RFC 5280 §4.2). */
import { createHash, type KeyObject } from 'node:crypto'
import { bits, bool, children, bitStringBytes, explicit, octets, oid, seq, tlv } from './der.js'

const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value))

/** Key identifier, RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(key: KeyObject): Buffer {
  const spki = key.export({ format: 'der', type: 'spki' })
  return createHash('sha1').update(bitStringBytes(children(spki)[1] as Buffer)).digest()
}

export function caExtensions(ski: Buffer): Buffer {
  return explicit(3, seq(
    ext('2.5.29.19', true, seq(bool(true), tlv(0x02, Buffer.from([0])))), // basicConstraints: CA, pathLen 0
    ext('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyUsage: keyCertSign, cRLSign
    ext('2.5.29.14', false, octets(ski)),
  ))
}

export function deviceExtensions(deviceId: string, ski: Buffer, caKeyId: Buffer): Buffer {
  return explicit(3, seq(
    ext('2.5.29.19', true, seq()), // basicConstraints: not a CA
    ext('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // keyUsage: digitalSignature
    ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.2'))), // extKeyUsage: clientAuth
    ext('2.5.29.17', false, seq(tlv(0x86, Buffer.from(`urn:slipway:device:${encodeURIComponent(deviceId)}`)))), // SAN URI
    ext('2.5.29.14', false, octets(ski)),
    ext('2.5.29.35', false, seq(tlv(0x80, caKeyId))), // authorityKeyIdentifier [0] keyIdentifier
  ))
}

/** CRL extensions (RFC 5280 §5.2): authorityKeyIdentifier and cRLNumber. */
export function crlExtensions(caKeyId: Buffer, crlNumber: Buffer): Buffer {
  return explicit(0, seq(ext('2.5.29.35', false, seq(tlv(0x80, caKeyId))), ext('2.5.29.20', false, crlNumber)))
}

/**
 * Minimal DER (X.690) writing and exact slicing. Certificates are assembled here
 * byte by byte so that what the Signer signs (the TBS bytes) is exactly what goes
 * into the certificate; node-forge's ASN.1 reader (`forge.asn1`) does the parsing
 * of fields, and supplies OID and time encodings.
 */
import forge from 'node-forge'
import { TrustError } from '../errors.js'

const bin = (s: string) => Buffer.from(s, 'binary')

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

export const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}
export const seq = (...c: Buffer[]) => tlv(0x30, ...c)
export const set = (...c: Buffer[]) => tlv(0x31, ...c)
/** context-specific constructed `[n]` (EXPLICIT tagging) */
export const explicit = (n: number, ...c: Buffer[]) => tlv(0xa0 + n, ...c)
export const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]))
export const octets = (b: Buffer) => tlv(0x04, b)
export const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b)
export const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'))
export const oid = (dotted: string) => tlv(0x06, bin(forge.asn1.oidToDer(dotted).getBytes()))

/** A non-negative INTEGER from big-endian bytes or a small number. */
export function int(v: number | Buffer): Buffer {
  const hex = typeof v === 'number' ? v.toString(16) : ''
  let b = typeof v === 'number' ? Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex') : v
  let i = 0
  while (i < b.length - 1 && b[i] === 0 && !((b[i + 1] as number) & 0x80)) i++
  b = b.subarray(i)
  if ((b[0] as number) & 0x80) b = Buffer.concat([Buffer.from([0]), b])
  return tlv(0x02, b)
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Buffer {
  return d.getUTCFullYear() < 2050 ? tlv(0x17, bin(forge.asn1.dateToUtcTime(d))) : tlv(0x18, bin(forge.asn1.dateToGeneralizedTime(d)))
}

/** Header of the TLV at `off`: content start and end. */
function header(der: Buffer, off: number): { start: number; end: number } {
  if (off + 2 > der.length) throw new TrustError('CERT_CSR_INVALID', 'truncated DER')
  let len = der[off + 1] as number
  let start = off + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || start + n > der.length) throw new TrustError('CERT_CSR_INVALID', 'bad DER length')
    len = der.readUIntBE(start, n)
    start += n
  }
  if (start + len > der.length) throw new TrustError('CERT_CSR_INVALID', 'DER length past the end')
  return { start, end: start + len }
}

/** The content bytes of the TLV `der` (after tag and length). */
export function content(der: Buffer): Buffer {
  const { start, end } = header(der, 0)
  return der.subarray(start, end)
}

/** The bytes of a BIT STRING TLV with no unused bits (signatures, keys). */
export function bitStringBytes(der: Buffer): Buffer {
  const c = content(der)
  if (der[0] !== 0x03 || c[0] !== 0) throw new TrustError('CERT_CHAIN_INVALID', 'expected a BIT STRING of whole bytes')
  return c.subarray(1)
}

/** The exact bytes of each element inside the constructed TLV `der`. */
export function children(der: Buffer): Buffer[] {
  const { start, end } = header(der, 0)
  const out: Buffer[] = []
  for (let off = start; off < end; ) {
    const h = header(der, off)
    out.push(der.subarray(off, h.end))
    off = h.end
  }
  return out
}

/** forge's view of DER bytes, for reading fields. */
export const parse = (der: Buffer): forge.asn1.Asn1 => forge.asn1.fromDer(der.toString('binary'), true)

export function toPem(type: string, der: Buffer): string {
  return forge.pem.encode({ type, procType: undefined, contentDomain: undefined, dekInfo: undefined, headers: [], body: der.toString('binary') }).replace(/\r\n/g, '\n')
}

export function fromPem(pem: string, type: string): Buffer {
  let msgs: forge.pem.ObjectPEM[]
  try {
    msgs = forge.pem.decode(pem)
  } catch (e) {
    throw new TrustError(type.includes('REQUEST') ? 'CERT_CSR_INVALID' : 'CERT_CHAIN_INVALID', `not PEM (${type})`, undefined, { cause: e })
  }
  const m = msgs.find((x) => x.type === type)
  if (!m) throw new TrustError(type.includes('REQUEST') ? 'CERT_CSR_INVALID' : 'CERT_CHAIN_INVALID', `no ${type} block in PEM`)
  return bin(m.body)
}

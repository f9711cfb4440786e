/**
 * Checks on the server side of mTLS (and in tests): a device certificate is
 * issued by our CA, within its validity, for client auth, and not revoked.
 */
import { X509Certificate } from 'node:crypto'
import forge from 'node-forge'
import { TrustError } from '../errors.js'
import { keyTypeOfObject, keyTypeOfSigOid, verifyX509Signature } from './algorithms.js'
import { bitStringBytes, children, fromPem, parse } from './der.js'

export interface RevocationList {
  /** revoked serial numbers, lowercase hex without leading zeros */
  serials: Set<string>
  thisUpdate: Date
  nextUpdate: Date
}

const normSerial = (hex: string) => hex.toLowerCase().replace(/^0+(?=.)/, '')
const chainError = (why: string, cause?: unknown) => new TrustError('CERT_CHAIN_INVALID', why, undefined, { cause })

function readTime(n: forge.asn1.Asn1): Date {
  return n.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(n.value as string) : forge.asn1.generalizedTimeToDate(n.value as string)
}

/** Parse a CRL and check it is signed by the CA. */
export function parseRevocationList(crlPem: string, caPem: string): RevocationList {
  const ca = new X509Certificate(caPem)
  const der = fromPem(crlPem, 'X509 CRL')
  const [tbs, alg, sig] = children(der) as [Buffer, Buffer, Buffer]
  let sigOid: string
  try {
    sigOid = forge.asn1.derToOid((parse(alg).value as forge.asn1.Asn1[])[0]!.value as string)
  } catch (e) {
    throw chainError('revocation list does not parse', e)
  }
  const type = keyTypeOfObject(ca.publicKey)
  if (keyTypeOfSigOid(sigOid) !== type || !verifyX509Signature(type, tbs, ca.publicKey, bitStringBytes(sig)))
    throw chainError('revocation list is not signed by the device CA')
  const fields = parse(tbs).value as forge.asn1.Asn1[]
  // version, signature, issuer, thisUpdate, nextUpdate, [revokedCertificates], [0] extensions
  const serials = new Set<string>()
  const list = fields[5]
  if (list && list.tagClass === forge.asn1.Class.UNIVERSAL && list.type === forge.asn1.Type.SEQUENCE)
    for (const entry of list.value as forge.asn1.Asn1[]) {
      const serial = (entry.value as forge.asn1.Asn1[])[0]!.value as string
      serials.add(normSerial(Buffer.from(serial, 'binary').toString('hex')))
    }
  return { serials, thisUpdate: readTime(fields[3]!), nextUpdate: readTime(fields[4]!) }
}

/** Verify a device certificate against the CA (and a CRL); returns the device id and serial. */
export function verifyDeviceCertificate(certPem: string, caPem: string, o: { now?: Date; crlPem?: string } = {}): { deviceId: string; serial: string } {
  const now = o.now ?? new Date()
  let cert: X509Certificate, ca: X509Certificate
  try {
    cert = new X509Certificate(certPem)
    ca = new X509Certificate(caPem)
  } catch (e) {
    throw chainError('certificate does not parse', e)
  }
  if (!ca.ca) throw chainError('issuer is not a CA certificate')
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw chainError('certificate is not issued by the device CA')
  if (cert.ca) throw chainError('a CA certificate is not a device certificate')
  if (!(cert.keyUsage ?? []).includes('1.3.6.1.5.5.7.3.2')) throw chainError('certificate is not for client authentication')
  for (const c of [cert, ca])
    if (now < new Date(c.validFrom) || now > new Date(c.validTo))
      throw new TrustError('CERT_EXPIRED', `certificate ${c.subject} is valid ${c.validFrom} to ${c.validTo}`)
  const serial = normSerial(cert.serialNumber)
  if (o.crlPem) {
    const crl = parseRevocationList(o.crlPem, caPem)
    if (crl.serials.has(serial)) throw new TrustError('CERT_REVOKED', `certificate ${serial} is revoked`, { serial })
  }
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1]
  if (!cn) throw chainError('certificate has no commonName')
  return { deviceId: cn, serial }
}

/**
 * The endorsement-key certificate: the TPM manufacturer's statement (TCG EK
 * Credential Profile §3) that the key in it is the EK of a genuine TPM. It is the
 * root of TPM key attestation, so it must chain to a CA the operator configured
 * (`SLIPWAY_TPM_EK_CA_FILE`: the manufacturers' roots and intermediates, or for
 * tests the local CA `swtpm_setup` used). Every certificate in that file is a
 * trust anchor: the operator vouches for each one they list.
 */
import { X509Certificate, type KeyObject } from 'node:crypto'
import { TrustError } from '../errors.js'

const chainError = (why: string, cause?: unknown) => new TrustError('ATTESTATION_CHAIN_INVALID', `EK certificate: ${why}`, undefined, { cause })

/** The CA certificates of a PEM bundle; refuses a bundle with none or with a non-CA certificate. */
export function parseEkCaBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (!blocks.length) throw chainError('the EK CA file holds no PEM certificate')
  return blocks.map((b) => {
    let c: X509Certificate
    try {
      c = new X509Certificate(b)
    } catch (e) {
      throw chainError('a certificate in the EK CA file does not parse', e)
    }
    if (!c.ca) throw chainError(`EK CA file entry ${c.subject} is not a CA certificate`)
    return c
  })
}

/** TPM NV indices are fixed-size: a certificate read from one may be followed by padding. */
export function trimDer(der: Buffer): Buffer {
  if (der.length < 4 || der[0] !== 0x30) throw chainError('not a DER certificate')
  const l = der[1] as number
  if (l < 0x80) return der.subarray(0, 2 + l)
  const n = l & 0x7f
  if (n < 1 || n > 3 || der.length < 2 + n) throw chainError('bad DER length')
  return der.subarray(0, 2 + n + der.readUIntBE(2, n))
}

/** Verify the EK certificate against the anchors at `now`; returns the EK public key. */
export function verifyEkCertificate(der: Buffer, anchors: readonly X509Certificate[], now: Date): KeyObject {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(trimDer(der))
  } catch (e) {
    if (e instanceof TrustError) throw e
    throw chainError('does not parse', e)
  }
  const within = (c: X509Certificate) => now >= new Date(c.validFrom) && now <= new Date(c.validTo)
  if (cert.ca) throw chainError('is a CA certificate')
  if (!within(cert)) throw chainError(`valid ${cert.validFrom} to ${cert.validTo}, not now`)
  const issuer = anchors.find((a) => cert.checkIssued(a) && cert.verify(a.publicKey))
  if (!issuer) throw chainError(`issuer "${cert.issuer.replace(/\n/g, ', ')}" is not in the configured EK CA file, or its signature does not verify`)
  if (!within(issuer)) throw chainError(`issuing CA ${issuer.subject} is valid ${issuer.validFrom} to ${issuer.validTo}, not now`)
  return cert.publicKey
}

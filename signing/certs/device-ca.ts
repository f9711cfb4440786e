/**
 * The device CA: issues X.509 client certificates (for mTLS) from device CSRs,
 * and signs revocation lists (X.509 v2 CRLs, RFC 5280 §5), usable directly as
 * Node's `tls` `crl` option. Its key sits behind the Signer port, so it can live
 * in a PKCS#11 token: we build the TBS DER and the Signer signs those bytes.
 */
import { randomBytes, X509Certificate } from 'node:crypto'
import { TrustError } from '../errors.js'
import { decodeKey, type KeyType } from '../keys.js'
import type { Signer } from '../signer.js'
import { algorithmIdentifier } from './algorithms.js'
import { parseCsr } from './csr.js'
import { bits, children, explicit, fromPem, int, seq, time, toPem } from './der.js'
import { caExtensions, crlExtensions, deviceExtensions, keyIdentifier } from './extensions.js'
import { name, type NameFields } from './name.js'

const DAY_MS = 86_400_000
/** notBefore is backdated by this much for devices with a slightly slow clock. */
const CLOCK_SKEW_MS = 5 * 60_000

export interface IssuedCertificate {
  pem: string
  /** lowercase hex, as in `X509Certificate.serialNumber` (lowercased) and CRLs */
  serial: string
  notAfter: Date
}

export interface Revocation {
  /** serial number, hex */
  serial: string
  revokedAt: Date
}

function serialNumber(): Buffer {
  const b = randomBytes(16)
  b[0] = ((b[0] as number) & 0x3f) | 0x40 // positive, 16 bytes (RFC 5280 §4.1.2.2: <= 20), hex without a leading 0
  return b
}

export class DeviceCa {
  readonly certificate: X509Certificate
  readonly #subject: Buffer
  readonly #keyId: Buffer
  readonly #type: KeyType

  private constructor(private readonly signer: Signer, readonly certificatePem: string) {
    this.certificate = new X509Certificate(certificatePem)
    const tbs = children(fromPem(certificatePem, 'CERTIFICATE'))[0] as Buffer
    this.#subject = children(tbs)[5] as Buffer // version, serial, signature, issuer, validity, subject
    const key = decodeKey(signer.publicKey).object
    if (!this.certificate.publicKey.equals(key))
      throw new TrustError('SIGNER_KEY_MISMATCH', 'the CA certificate is not for the signer key')
    this.#keyId = keyIdentifier(key)
    this.#type = signer.publicKey.keytype
  }

  /** A new self-signed CA certificate for the signer's key. */
  static async create(signer: Signer, o: NameFields & { validityDays?: number; now?: Date }): Promise<DeviceCa> {
    const now = o.now ?? new Date()
    const key = decodeKey(signer.publicKey).object
    const subject = name(o)
    const tbs = seq(
      explicit(0, int(2)), // v3
      int(serialNumber()),
      algorithmIdentifier(signer.publicKey.keytype),
      subject,
      seq(time(new Date(now.getTime() - CLOCK_SKEW_MS)), time(new Date(now.getTime() + (o.validityDays ?? 3650) * DAY_MS))),
      subject,
      key.export({ format: 'der', type: 'spki' }),
      caExtensions(keyIdentifier(key)),
    )
    return new DeviceCa(signer, await DeviceCa.#signed(signer, tbs, 'CERTIFICATE'))
  }

  /** Use an existing CA certificate; its key must be the signer's. */
  static fromCertificate(signer: Signer, certificatePem: string): DeviceCa {
    return new DeviceCa(signer, certificatePem)
  }

  static async #signed(signer: Signer, tbs: Buffer, type: string): Promise<string> {
    const sig = Buffer.from(await signer.sign(tbs))
    return toPem(type, seq(tbs, algorithmIdentifier(signer.publicKey.keytype), bits(sig)))
  }

  /**
   * Issue a client certificate for `deviceId` from its CSR. The CSR must be signed
   * by its own key (proof of possession) and name the same device.
   */
  async issue(csrPem: string, o: { deviceId: string; validityDays?: number; now?: Date; csrCommonName?: string }): Promise<IssuedCertificate> {
    const csr = parseCsr(csrPem)
    // a device asks for its first certificate before it knows its id: its CSR names its hardware id
    const expected = o.csrCommonName ?? o.deviceId
    if (csr.commonName !== expected)
      throw new TrustError('CERT_CSR_INVALID', `certificate request is for ${csr.commonName}, not ${expected}`, { expected })
    const now = o.now ?? new Date()
    const notAfter = new Date(now.getTime() + (o.validityDays ?? 365) * DAY_MS)
    const serial = serialNumber()
    const tbs = seq(
      explicit(0, int(2)),
      int(serial),
      algorithmIdentifier(this.#type),
      this.#subject,
      seq(time(new Date(now.getTime() - CLOCK_SKEW_MS)), time(notAfter)),
      name({ commonName: o.deviceId }),
      csr.spki,
      deviceExtensions(o.deviceId, keyIdentifier(csr.publicKey), this.#keyId),
    )
    return { pem: await DeviceCa.#signed(this.signer, tbs, 'CERTIFICATE'), serial: serial.toString('hex'), notAfter }
  }

  /** A signed CRL listing `revoked`; `number` must increase with each list (RFC 5280 §5.2.3). */
  async revocationList(revoked: readonly Revocation[], o: { number: number; nextUpdate: Date; thisUpdate?: Date }): Promise<string> {
    const entries = revoked.map((r) => seq(int(Buffer.from(r.serial.length % 2 ? '0' + r.serial : r.serial, 'hex')), time(r.revokedAt)))
    const tbs = seq(
      int(1), // v2
      algorithmIdentifier(this.#type),
      this.#subject,
      time(o.thisUpdate ?? new Date()),
      time(o.nextUpdate),
      ...(entries.length > 0 ? [seq(...entries)] : []), // absent when empty (§5.1.2.6)
      crlExtensions(this.#keyId, int(o.number)),
    )
    return DeviceCa.#signed(this.signer, tbs, 'X509 CRL')
  }
}

/**
 * The device CA (signing/certs DeviceCa) behind the domain's DeviceCertificateAuthority
 * port. Its key is configured like the online key: a file in the keys folder (embedded
 * default, generated on first start: ECDSA P-256, so TLS stacks without Ed25519 client
 * certificates can verify it) or a PKCS#11 token key. The CA certificate is made on the
 * first start and kept in the database, so every replica serves the same one.
 */
import { X509Certificate } from 'node:crypto'
import { DeviceCa, parseCsr, Pkcs11Signer, verifyDeviceCertificate, type Signer } from '../../../signing/index.js'
import type { DeviceCaKeyConfig } from '../../config.js'
import type { DeviceCaRepository } from '../../domain/ports/fleet-repositories.js'
import type { CheckedCsr, DeviceCertificateAuthority, IssuedDeviceCertificate } from '../../domain/ports/device-identity.js'
import { loadOrCreateFileKey } from '../signer/dev-root.js'

const DAY_SECONDS = 86_400

export class SigningDeviceCa implements DeviceCertificateAuthority {
  readonly certificatePem: string

  private constructor(
    private readonly ca: DeviceCa,
    private readonly signer: Signer & { close?: () => Promise<void> },
    readonly keyKind: 'file' | 'pkcs11',
  ) {
    this.certificatePem = ca.certificatePem
  }

  /** Open the configured key; load the stored CA certificate or create and store it. */
  static async open(c: DeviceCaKeyConfig, store: DeviceCaRepository): Promise<SigningDeviceCa> {
    const signer: Signer & { close?: () => Promise<void> } =
      c.kind === 'file'
        ? await loadOrCreateFileKey(c.path, 'ecdsa')
        : await Pkcs11Signer.open({ modulePath: c.modulePath, tokenLabel: c.tokenLabel, pin: c.pin, keyLabel: c.keyLabel })
    try {
      let pem = await store.get()
      if (!pem) pem = await store.insertIfAbsent((await DeviceCa.create(signer, { commonName: 'Slipway Device CA', organization: 'Slipway', validityDays: 3650 })).certificatePem, new Date().toISOString())
      return new SigningDeviceCa(DeviceCa.fromCertificate(signer, pem), signer, c.kind)
    } catch (e) {
      await signer.close?.()
      throw e
    }
  }

  checkCsr(csrPem: string): CheckedCsr {
    const csr = parseCsr(csrPem)
    return { commonName: csr.commonName, keyType: csr.keyType, spki: csr.spki }
  }

  async issue(csrPem: string, o: { deviceId: string; csrCommonName: string; lifetimeSeconds: number; now: Date }): Promise<IssuedDeviceCertificate> {
    const issued = await this.ca.issue(csrPem, { deviceId: o.deviceId, csrCommonName: o.csrCommonName, validityDays: o.lifetimeSeconds / DAY_SECONDS, now: o.now })
    const cert = new X509Certificate(issued.pem)
    const spki = cert.publicKey.export({ format: 'der', type: 'spki' })
    const keyType = cert.publicKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'ecdsa'
    return { pem: issued.pem, serial: normalizeSerial(issued.serial), keyType, spki, notBefore: new Date(cert.validFrom), notAfter: issued.notAfter }
  }

  verify(certPem: string, now: Date): { deviceId: string; serial: string } {
    return verifyDeviceCertificate(certPem, this.certificatePem, { now })
  }

  revocationList(revoked: ReadonlyArray<{ serial: string; revokedAt: Date }>, o: { number: number; thisUpdate: Date; nextUpdate: Date }): Promise<string> {
    return this.ca.revocationList(revoked, o)
  }

  async close(): Promise<void> {
    await this.signer.close?.()
  }
}

/** Serial numbers as X509Certificate and CRLs print them: lowercase hex, no leading zeros. */
export const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, '')



const workerOnly = (): never => {
  throw new Error('DEVICE_CA_NOT_OPENED: this process (slipway worker) does not open the device CA; device certificates are the HTTP server\'s')
}

/** What a worker's container holds instead of the device CA: it serves no device route, so any use is a bug. */
export const noDeviceCaInWorker: DeviceCertificateAuthority = {
  get certificatePem(): string {
    return workerOnly()
  },
  checkCsr: workerOnly,
  issue: workerOnly,
  verify: workerOnly,
  revocationList: workerOnly,
}

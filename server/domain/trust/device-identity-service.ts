/**
 * Key-bound device identity (issue 10 §1, §2). A device creates its own key and sends
 * a CSR; the device CA issues it a short-lived certificate (device id in the SAN URI).
 * Re-enrolling a hardware id that is already enrolled needs proof of the device's
 * current key (the enroll request signed with it); without it the claimant gets a
 * `pending` certificate that reaches nothing until an operator approves it. A
 * re-enrollment never changes the group. Every step is written to the audit log in the
 * same transaction.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { notFound, SlipwayError, unprocessable } from '../errors.js'
import { checkEnrollmentToken, takeEnrollmentToken } from '../devices/enrollment-service.js'
import { deviceQuarantined } from '../devices/quarantine-service.js'
import type { Device, DeviceCertificate, DeviceClaim, InstalledRelease } from '../fleet-model.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { announceNothing, announcedAfter, type Announce } from '../live-changes.js'
import type { DevicePrincipal } from '../model.js'
import type { DeviceCertificateAuthority, IssuedDeviceCertificate, KeyAttestationVerifier } from '../ports/device-identity.js'

export interface CsrEnrollRequest {
  enrollmentToken: string
  hardwareId: string
  hardware: string
  tags: string[]
  installed: InstalledRelease[]
  /** PEM PKCS#10, subject CN = hardwareId, signed with the new device key */
  csr: string
  /** opaque key attestation (TPM2_Certify), checked by the KeyAttestationVerifier port */
  attestation?: unknown
}

export interface CertificateGrant {
  deviceId: string
  group: string
  /** active: the certificate authenticates the device; pending: a claim awaiting approval */
  state: 'active' | 'pending'
  certificate: string
  serial: string
  notAfter: string
  caCertificate: string
  keyTpmResident: boolean
}

export interface EnrollOutcome extends CertificateGrant {
  kind: 'created' | 're-enrolled' | 'claim-pending'
}

export interface IdentityOptions {
  certLifetimeSeconds: number
  attestation?: KeyAttestationVerifier
  now?: () => Date
  /** live console pages hear every committed enrollment, renewal, approval and revocation */
  announce?: Announce
}

/** A CRL stays cached while no revocation happened, at most this long (then re-signed with a fresh nextUpdate). */
const CRL_CACHE_MS = 3_600_000
const CRL_NEXT_UPDATE_MS = 24 * 3_600_000

const deviceSubject = (id: string) => `device:${id}`

export class DeviceIdentityService {
  readonly #now: () => Date
  #crl: { count: number; pem: string; at: number } | undefined

  constructor(
    private readonly fleet: FleetRepositories,
    private readonly ca: DeviceCertificateAuthority,
    private readonly o: IdentityOptions,
  ) {
    this.#now = o.now ?? (() => new Date())
  }

  /** A write in one transaction, announced to the live console pages (`fleet`: lists, device pages, audit) once committed. */
  #write<T>(work: (tx: FleetRepositories) => Promise<T>): Promise<T> {
    return announcedAfter(this.fleet.transaction(work), this.o.announce ?? announceNothing)
  }

  get caCertificate(): string {
    return this.ca.certificatePem
  }

  /**
   * Enrollment with a CSR. `proof`: the device the request authenticated as (a message
   * signature or client certificate of its current key), when it offered one.
   */
  async enroll(req: CsrEnrollRequest, proof?: DevicePrincipal): Promise<EnrollOutcome> {
    // bad input is refused before anything is read or written
    const csr = this.ca.checkCsr(req.csr)
    if (csr.commonName !== req.hardwareId)
      throw unprocessable('CERT_CSR_INVALID', `the certificate request names ${csr.commonName}, not the hardware id ${req.hardwareId}`)
    const tpm = await this.#attest(req.attestation, csr.spki)
    const now = this.#now()
    const at = now.toISOString()
    return this.#write(async (tx) => {
      const token = await takeEnrollmentToken(tx, req.enrollmentToken, at)
      if (token.requireTpm && !tpm)
        throw new SlipwayError('forbidden', 'ENROLL_TPM_REQUIRED', 'this enrollment token requires a TPM-resident device key, proven by a key attestation')
      const existing = await tx.devices.findByHardwareId(req.hardwareId)
      // a quarantined device stays out (the token use above rolls back with this refusal)
      if (existing?.quarantinedAt) throw deviceQuarantined()
      const actor = `enrollment-token:${token.id}`
      const claim: DeviceClaim = { hardware: req.hardware, tags: [...new Set(req.tags)].sort(), installed: req.installed }
      if (!existing) {
        const device: Device = {
          id: randomUUID(),
          hardwareId: req.hardwareId,
          hardware: req.hardware,
          group: token.group,
          tags: claim.tags,
          // no bearer secret exists for a key-bound device: an unguessable placeholder keeps the column unique
          credentialHash: createHash('sha256').update(randomBytes(32)).digest('hex'),
          lastSeq: -1,
          lastState: null,
          lastReportAt: null,
          lastSeenAt: at,
          createdAt: at,
          updatedAt: at,
        }
        await tx.devices.insert(device)
        await tx.devices.replaceInstalled(device.id, req.installed, at)
        const cert = await this.#issue(tx, device.id, req.csr, req.hardwareId, 'active', tpm, null, now)
        await tx.devices.setKeyTpmResident(device.id, tpm)
        await tx.audit.append({ actor, action: 'device.enroll', subject: deviceSubject(device.id), reason: null, before: null, after: { hardwareId: device.hardwareId, group: device.group, serial: cert.serial, notAfter: cert.notAfter, keyTpmResident: tpm } }, at)
        return this.#grant('created', device, cert)
      }
      const proven = proof !== undefined && proof.deviceId === existing.id && (proof.certificate?.state === 'active' || proof.via === 'bearer')
      if (proven) {
        await tx.devices.update({ ...existing, hardware: claim.hardware, tags: claim.tags, updatedAt: at })
        await tx.devices.replaceInstalled(existing.id, req.installed, at)
        const cert = await this.#issue(tx, existing.id, req.csr, req.hardwareId, 'active', tpm, null, now)
        const superseded = await tx.certificates.revokeForDevice(existing.id, at, 'superseded: re-enrolled with proof of the current key', { states: ['active'], exceptSerial: cert.serial })
        await tx.devices.setKeyTpmResident(existing.id, tpm)
        await tx.audit.append({ actor: deviceSubject(existing.id), action: 'device.re-enroll', subject: deviceSubject(existing.id), reason: null, before: { serials: superseded }, after: { serial: cert.serial, notAfter: cert.notAfter, keyTpmResident: tpm, enrollmentToken: token.id } }, at)
        return this.#grant('re-enrolled', existing, cert)
      }
      // no proof of the current key: a claim, which reaches nothing until approved
      const cert = await this.#issue(tx, existing.id, req.csr, req.hardwareId, 'pending', tpm, claim, now)
      await tx.audit.append({ actor, action: 'device.claim', subject: deviceSubject(existing.id), reason: 're-enrollment without proof of the current key: awaits an operator approval', before: null, after: { serial: cert.serial, keyTpmResident: tpm } }, at)
      return this.#grant('claim-pending', existing, cert)
    })
  }

  /**
   * Round 1 of a key attestation, before enrollment: the device has no identity yet, so
   * the request carries a valid enrollment token (checked, not used up) and is throttled
   * with enrollments. Stateless: the challenge is sealed with the replicas' shared key.
   */
  async attestationChallenge(enrollmentToken: string, request: unknown): Promise<unknown> {
    const token = await checkEnrollmentToken(this.fleet, enrollmentToken, this.#now().toISOString())
    if (token.uses >= token.maxUses) throw new SlipwayError('unauthenticated', 'ENROLLMENT_TOKEN_USED_UP', `the enrollment token was already used ${token.maxUses} times`)
    if (!this.o.attestation) throw new SlipwayError('invalid', 'ATTESTATION_NOT_SUPPORTED', 'this server has no key attestation verifier configured (SLIPWAY_TPM_EK_CA_FILE)')
    return this.o.attestation.challenge(request)
  }

  /** Renewal: the device proved its current key (the request's signature); the CSR may carry the same key or a new one. */
  async renew(principal: DevicePrincipal, csrPem: string, attestation?: unknown): Promise<CertificateGrant> {
    const csr = this.ca.checkCsr(csrPem)
    if (csr.commonName !== principal.deviceId) throw unprocessable('CERT_CSR_INVALID', `the certificate request names ${csr.commonName}, not the device id ${principal.deviceId}`)
    const attested = await this.#attest(attestation, csr.spki)
    const now = this.#now()
    const at = now.toISOString()
    return this.#write(async (tx) => {
      // the same key renewing keeps what its attestation proved; a new key must prove it again
      const current = principal.certificate
      const tpm = attested || (current !== undefined && current.keyTpmResident && Buffer.from(current.publicKey, 'base64').equals(csr.spki))
      const cert = await this.#issue(tx, principal.deviceId, csrPem, principal.deviceId, 'active', tpm, null, now)
      const superseded = await tx.certificates.revokeForDevice(principal.deviceId, at, 'superseded: renewed', { states: ['active'], exceptSerial: cert.serial })
      await tx.devices.setKeyTpmResident(principal.deviceId, tpm)
      await tx.audit.append({ actor: deviceSubject(principal.deviceId), action: 'device-cert.renew', subject: deviceSubject(principal.deviceId), reason: null, before: { serials: superseded }, after: { serial: cert.serial, notAfter: cert.notAfter, keyTpmResident: tpm } }, at)
      return this.#grant('re-enrolled', principal.device, cert)
    })
  }

  /**
   * An operator accepts a re-enrollment claim: its certificate becomes the device's, every
   * other certificate of the device is revoked, and what the claimant enrolled with
   * (hardware, tags, installed) is applied. The group stays.
   */
  async approve(deviceId: string, serial: string | undefined, actor: string, reason: string): Promise<DeviceCertificate> {
    const at = this.#now().toISOString()
    return this.#write(async (tx) => {
      const device = await tx.devices.findById(deviceId)
      if (!device) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
      const pending = (await tx.certificates.listForDevice(deviceId)).filter((c) => c.state === 'pending' && (serial === undefined || c.serial === serial))
      const claim = pending[pending.length - 1]
      if (!claim) throw notFound('DEVICE_CLAIM_NOT_FOUND', serial ? `device ${deviceId} has no pending claim ${serial}` : `device ${deviceId} has no pending claim`)
      const replaced = await tx.certificates.revokeForDevice(deviceId, at, `replaced: claim ${claim.serial} approved`, { exceptSerial: claim.serial })
      await tx.certificates.activate(claim.serial)
      if (claim.claim) {
        await tx.devices.update({ ...device, hardware: claim.claim.hardware, tags: claim.claim.tags, updatedAt: at })
        await tx.devices.replaceInstalled(deviceId, claim.claim.installed, at)
      }
      await tx.devices.setKeyTpmResident(deviceId, claim.keyTpmResident)
      await tx.audit.append({ actor, action: 'device.approve', subject: deviceSubject(deviceId), reason, before: { serials: replaced }, after: { serial: claim.serial } }, at)
      return { ...claim, state: 'active', claim: null }
    })
  }

  /** Revoke every unrevoked certificate of a device (quarantine, a lost device), audited. Returns the serials. */
  async revokeDeviceCertificates(deviceId: string, reason: string, actor: string): Promise<string[]> {
    const at = this.#now().toISOString()
    return this.#write((tx) => revokeDeviceCertificatesIn(tx, deviceId, reason, actor, at))
  }

  /** Revoke one certificate (a rejected claim, a leaked key). */
  async revokeCertificate(serial: string, reason: string, actor: string): Promise<DeviceCertificate> {
    const at = this.#now().toISOString()
    return this.#write(async (tx) => {
      const cert = await tx.certificates.findBySerial(serial)
      if (!cert || cert.state === 'revoked') throw notFound('DEVICE_CERT_NOT_FOUND', `no unrevoked device certificate ${serial}`)
      await tx.certificates.revokeForDevice(cert.deviceId, at, reason, { states: [cert.state] as Array<'active' | 'pending'>, exceptSerial: undefined })
      await tx.audit.append({ actor, action: 'device-cert.revoke', subject: deviceSubject(cert.deviceId), reason, before: null, after: { serials: [serial] } }, at)
      return { ...cert, state: 'revoked', revokedAt: at, revocationReason: reason }
    })
  }

  async certificates(deviceId: string): Promise<DeviceCertificate[]> {
    if (!(await this.fleet.devices.findById(deviceId))) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
    return this.fleet.certificates.listForDevice(deviceId)
  }

  /** The device CA's CRL (PEM). Re-signed when a revocation happened (on any replica) or hourly. */
  async revocationList(): Promise<string> {
    const count = await this.fleet.certificates.revocationCount()
    const nowMs = this.#now().getTime()
    if (this.#crl && this.#crl.count === count && nowMs - this.#crl.at < CRL_CACHE_MS) return this.#crl.pem
    const revoked = await this.fleet.certificates.revokedUnexpired(new Date(nowMs).toISOString())
    // cRLNumber (RFC 5280 §5.2.3) must grow: revocations are never undone, so their count does
    const pem = await this.ca.revocationList(
      revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt) })),
      { number: count + 1, thisUpdate: new Date(nowMs), nextUpdate: new Date(nowMs + CRL_NEXT_UPDATE_MS) },
    )
    this.#crl = { count, pem, at: nowMs }
    return pem
  }

  async #attest(attestation: unknown, spki: Buffer): Promise<boolean> {
    if (attestation === undefined || attestation === null) return false
    if (!this.o.attestation) throw new SlipwayError('invalid', 'ATTESTATION_NOT_SUPPORTED', 'this server has no key attestation verifier configured')
    return (await this.o.attestation.verify(attestation, spki)).tpmResident
  }

  async #issue(tx: FleetRepositories, deviceId: string, csrPem: string, csrCommonName: string, state: 'active' | 'pending', tpm: boolean, claim: DeviceClaim | null, now: Date): Promise<DeviceCertificate> {
    const issued: IssuedDeviceCertificate = await this.ca.issue(csrPem, { deviceId, csrCommonName, lifetimeSeconds: this.o.certLifetimeSeconds, now })
    const cert: DeviceCertificate = {
      serial: issued.serial,
      deviceId,
      state,
      keyType: issued.keyType,
      publicKey: issued.spki.toString('base64'),
      keyTpmResident: tpm,
      certificate: issued.pem,
      claim,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      issuedAt: now.toISOString(),
      revokedAt: null,
      revocationReason: null,
    }
    // the caller's audit entry (device.enroll, device.re-enroll, device.claim, device-cert.renew) records the issue
    await tx.certificates.insert(cert)
    return cert
  }

  #grant(kind: EnrollOutcome['kind'], device: Pick<Device, 'id' | 'group'>, cert: DeviceCertificate): EnrollOutcome {
    return {
      kind,
      deviceId: device.id,
      group: device.group,
      state: cert.state === 'pending' ? 'pending' : 'active',
      certificate: cert.certificate,
      serial: cert.serial,
      notAfter: cert.notAfter,
      caCertificate: this.ca.certificatePem,
      keyTpmResident: cert.keyTpmResident,
    }
  }
}

/**
 * Revoke every unrevoked certificate of `deviceId` inside the caller's transaction and
 * audit it: for a quarantine that must land together with other changes.
 */
export async function revokeDeviceCertificatesIn(tx: FleetRepositories, deviceId: string, reason: string, actor: string, at: string): Promise<string[]> {
  if (!(await tx.devices.findById(deviceId))) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
  const serials = await tx.certificates.revokeForDevice(deviceId, at, reason)
  await tx.audit.append({ actor, action: 'device-cert.revoke', subject: deviceSubject(deviceId), reason, before: null, after: { serials } }, at)
  return serials
}

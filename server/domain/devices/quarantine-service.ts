/**
 * Quarantine, release and decommission (issue 10 §4). Each is one transaction with its
 * audit entry, so a device is never half quarantined: its credential revoked but its
 * assignment still served, or its rollout still counting it.
 *
 * Release lifts the quarantine but does not give the old credential back: the device
 * must enroll again (with key-bound identity: an approved re-enrollment).
 */
import { conflict, notFound, SlipwayError } from '../errors.js'
import type { Device } from '../fleet-model.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { announceNothing, announcedAfter, type Announce } from '../live-changes.js'
import { revokeDeviceCertificatesIn } from '../trust/device-identity-service.js'

/** A quarantine stores the credential's hash under this prefix: no credential hashes to it, yet it still names the device. */
export const REVOKED_CREDENTIAL_PREFIX = 'revoked:'

export const deviceQuarantined = () =>
  new SlipwayError('forbidden', 'DEVICE_QUARANTINED', 'this device is quarantined: an operator must release it, then it enrolls again')

export class QuarantineService {
  constructor(
    private readonly fleet: FleetRepositories,
    /** tells live pages the fleet changed */
    private readonly announce: Announce = announceNothing,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Revokes the credential, withdraws the assignment and the rollout memberships, marks the device; 409 when already quarantined. */
  async quarantine(deviceId: string, reason: string, actor: string): Promise<Device> {
    const at = this.now().toISOString()
    return announcedAfter(this.fleet.transaction(async (tx) => {
      const device = await this.live(tx, deviceId)
      // the conditional write first: of two concurrent quarantines, one wins and the other changes nothing
      if (device.quarantinedAt || !(await tx.devices.setQuarantine(deviceId, { at, reason })))
        throw conflict('DEVICE_ALREADY_QUARANTINED', `device ${deviceId} is quarantined since ${device.quarantinedAt ?? at}`)
      if (!device.credentialHash.startsWith(REVOKED_CREDENTIAL_PREFIX))
        await tx.devices.setCredentialHash(deviceId, REVOKED_CREDENTIAL_PREFIX + device.credentialHash, at)
      // its certificates too: a key-bound device is refused by every replica at once
      await revokeDeviceCertificatesIn(tx, deviceId, `quarantined: ${reason}`, actor, at)
      const assignment = await tx.assignments.withdraw(deviceId, at)
      await tx.downloads.setPrevious(deviceId, [])
      const memberships = await tx.members.withdraw(deviceId, at)
      await tx.audit.append(
        {
          actor,
          action: 'device.quarantine',
          subject: `device:${deviceId}`,
          reason,
          before: { quarantined: false },
          after: { quarantined: true, credentialRevoked: true, assignmentWithdrawn: assignment, membershipsWithdrawn: memberships },
        },
        at,
      )
      return { ...device, quarantinedAt: at, quarantineReason: reason }
    }), this.announce)
  }

  /** Lifts the quarantine; the revoked credential stays revoked, so the device re-enrolls. 409 when not quarantined. */
  async release(deviceId: string, reason: string, actor: string): Promise<Device> {
    const at = this.now().toISOString()
    return announcedAfter(this.fleet.transaction(async (tx) => {
      const device = await this.live(tx, deviceId)
      if (!device.quarantinedAt || !(await tx.devices.setQuarantine(deviceId, null))) throw conflict('DEVICE_NOT_QUARANTINED', `device ${deviceId} is not quarantined`)
      await tx.audit.append(
        {
          actor,
          action: 'device.release',
          subject: `device:${deviceId}`,
          reason,
          before: { quarantined: true, since: device.quarantinedAt, reason: device.quarantineReason ?? null },
          after: { quarantined: false, mustReEnroll: true },
        },
        at,
      )
      return { ...device, quarantinedAt: null, quarantineReason: null }
    }), this.announce)
  }

  /** Deletes the identity (credential, hardware id binding) and keeps the history; the hardware may enroll later as a new device. */
  async decommission(deviceId: string, reason: string, actor: string): Promise<void> {
    const at = this.now().toISOString()
    await announcedAfter(this.fleet.transaction(async (tx) => {
      const device = await this.live(tx, deviceId)
      await revokeDeviceCertificatesIn(tx, deviceId, `decommissioned: ${reason}`, actor, at)
      const assignment = await tx.assignments.withdraw(deviceId, at)
      await tx.downloads.setPrevious(deviceId, [])
      const memberships = await tx.members.withdraw(deviceId, at)
      await tx.devices.decommission(deviceId, at)
      await tx.audit.append(
        {
          actor,
          action: 'device.decommission',
          subject: `device:${deviceId}`,
          reason,
          before: { hardwareId: device.hardwareId, hardware: device.hardware, group: device.group, tags: device.tags, quarantinedAt: device.quarantinedAt ?? null },
          after: { decommissioned: true, assignmentWithdrawn: assignment, membershipsWithdrawn: memberships },
        },
        at,
      )
    }), this.announce)
  }

  /** The device, unless unknown or decommissioned (both 404: a decommissioned device has no identity left to act on). */
  private async live(tx: FleetRepositories, deviceId: string): Promise<Device> {
    const device = await tx.devices.findById(deviceId)
    if (!device || device.decommissionedAt) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
    return device
  }
}

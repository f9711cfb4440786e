/**
 * Enrollment tokens: operators issue group-scoped, N-use, expiring tokens; a device
 * trades one for its identity (trust/device-identity-service.ts: a certificate for
 * its own key). The old bearer enrollment stays for SLIPWAY_DEVICE_BEARER_COMPAT.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { DEVICE_CREDENTIAL_PREFIX } from '../auth/auth-service.js'
import { notFound, SlipwayError, type CodeOf } from '../errors.js'
import { deviceQuarantined } from './quarantine-service.js'
import type { Device, EnrollmentToken, InstalledRelease } from '../fleet-model.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { announceNothing, announcedAfter, type Announce } from '../live-changes.js'

export const ENROLLMENT_TOKEN_PREFIX = 'sle_'

/** Check an enrollment token and take one of its uses, in the caller's transaction (so the use is taken only if the enrollment is written). */
export async function takeEnrollmentToken(tx: FleetRepositories, secret: string, now: string): Promise<EnrollmentToken> {
  const token = await checkEnrollmentToken(tx, secret, now)
  if (!(await tx.enrollmentTokens.takeUse(token.id)))
    throw invalidToken('ENROLLMENT_TOKEN_USED_UP', `the enrollment token was already used ${token.maxUses} times`)
  return token
}

/** The token is valid now (not revoked, not expired, not used up), without taking a use. */
export async function checkEnrollmentToken(tx: FleetRepositories, secret: string, now: string): Promise<EnrollmentToken> {
  const token = secret.startsWith(ENROLLMENT_TOKEN_PREFIX) ? await tx.enrollmentTokens.findByHash(sha256(secret)) : undefined
  if (!token || token.revokedAt !== null) throw invalidToken('ENROLLMENT_TOKEN_INVALID', 'the enrollment token is not valid')
  if (token.expiresAt <= now) throw invalidToken('ENROLLMENT_TOKEN_INVALID', 'the enrollment token has expired')
  return token
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')
const invalidToken = (code: CodeOf<'unauthenticated'>, message: string) => new SlipwayError('unauthenticated', code, message)

export interface EnrollRequest {
  enrollmentToken: string
  hardwareId: string
  hardware: string
  tags: string[]
  installed: InstalledRelease[]
}

export interface Enrolled {
  device: Device
  credential: string
  created: boolean
}

export class EnrollmentService {
  constructor(
    private readonly fleet: FleetRepositories,
    /** tells live pages the fleet changed */
    private readonly announce: Announce = announceNothing,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async createToken(p: { group: string; maxUses: number; ttlSeconds: number; createdBy: string; requireTpm?: boolean }): Promise<{ token: string; record: EnrollmentToken }> {
    const token = ENROLLMENT_TOKEN_PREFIX + randomBytes(32).toString('base64url')
    const now = this.now()
    const record: EnrollmentToken = {
      id: randomUUID(),
      tokenHash: sha256(token),
      group: p.group,
      maxUses: p.maxUses,
      uses: 0,
      expiresAt: new Date(now.getTime() + p.ttlSeconds * 1000).toISOString(),
      revokedAt: null,
      createdBy: p.createdBy,
      createdAt: now.toISOString(),
      requireTpm: p.requireTpm ?? false,
    }
    // the token and its audit entry land together or not at all
    await announcedAfter(this.fleet.transaction(async (tx) => {
      await tx.enrollmentTokens.insert(record)
      await tx.audit.append(
        { actor: p.createdBy, action: 'enrollment-token.create', subject: `enrollment-token:${record.id}`, reason: null, before: null, after: { group: record.group, maxUses: record.maxUses, expiresAt: record.expiresAt, requireTpm: record.requireTpm } },
        record.createdAt,
      )
    }), this.announce)
    return { token, record }
  }

  listTokens(): Promise<EnrollmentToken[]> {
    return this.fleet.enrollmentTokens.list()
  }

  async revokeToken(id: string, actor: string): Promise<void> {
    const at = this.now().toISOString()
    await announcedAfter(this.fleet.transaction(async (tx) => {
      if (!(await tx.enrollmentTokens.revoke(id, at))) throw notFound('ENROLLMENT_TOKEN_NOT_FOUND', `no unrevoked enrollment token with id ${id}`)
      await tx.audit.append({ actor, action: 'enrollment-token.revoke', subject: `enrollment-token:${id}`, reason: null, before: null, after: { revokedAt: at } }, at)
    }), this.announce)
  }

  /**
   * Bearer enrollment of SLIPWAY_DEVICE_BEARER_COMPAT (one release of overlap): trade a
   * token for an `sld_` credential. Key-bound enrollment is DeviceIdentityService.enroll.
   */
  async enroll(req: EnrollRequest, provenDeviceId?: string): Promise<Enrolled> {
    const now = this.now().toISOString()
    const credential = DEVICE_CREDENTIAL_PREFIX + randomBytes(32).toString('base64url')
    // one transaction: the use is taken only if the device row is written
    return announcedAfter(this.fleet.transaction(async (tx) => {
      const token = await takeEnrollmentToken(tx, req.enrollmentToken, now)
      const existing = await tx.devices.findByHardwareId(req.hardwareId)
      // a quarantined device stays out (the token use above rolls back with this refusal)
      if (existing?.quarantinedAt) throw deviceQuarantined()
      // no takeover (issue 10 §2): only the device itself (its current credential) re-enrolls its hardware id
      if (existing && provenDeviceId !== existing.id)
        throw new SlipwayError('forbidden', 'ENROLL_PROOF_REQUIRED', 'this hardware id is enrolled: re-enrolling it needs the device\'s current credential or key (or enroll with a CSR and have an operator approve the claim)')
      const device: Device = {
        id: existing?.id ?? randomUUID(),
        hardwareId: req.hardwareId,
        hardware: req.hardware,
        // a re-enrollment never moves a device between groups
        group: existing?.group ?? token.group,
        tags: [...new Set(req.tags)].sort(),
        credentialHash: sha256(credential),
        lastSeq: existing?.lastSeq ?? -1,
        lastState: existing?.lastState ?? null,
        lastReportAt: existing?.lastReportAt ?? null,
        lastSeenAt: now,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      }
      if (existing) await tx.devices.update(device)
      else await tx.devices.insert(device)
      await tx.devices.replaceInstalled(device.id, req.installed, now)
      return { device, credential, created: !existing }
    }), this.announce)
  }
}

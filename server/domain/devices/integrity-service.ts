/**
 * Integrity findings (issue 12 §4): the agent re-hashed its active slot or a live
 * model and found drift, or could not finish within its time budget. Each report is
 * kept as a security event (idempotent by id), flags the device until an operator
 * clears it, and is audited. The release it names is looked up, never believed: a
 * report for an unknown release (or with another sha256) is stored and flagged with
 * `releaseKnown: false`. With the quarantine policy on, drift also quarantines.
 */
import { invalid, SlipwayError } from '../errors.js'
import type { Release } from '../model.js'
import type { QuarantineService } from './quarantine-service.js'
import type { FleetRepositories, IntegrityFlag } from '../ports/fleet-repositories.js'
import type { SecurityEvent as SecurityReport } from '../../../client-sdk/src/wire/index.js'

export interface IntegrityPolicy {
  /** quarantine a device on drift */
  quarantine: boolean
  /** called once per new finding (metrics) */
  onFinding?: (state: IntegrityFlag['state'], releaseKnown: boolean) => void
}

export const INTEGRITY_ACTOR = 'system:integrity'

export class IntegrityService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly releaseByName: (name: string, version: string) => Promise<Release | undefined>,
    private readonly quarantines: QuarantineService,
    private readonly policy: IntegrityPolicy,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async report(deviceId: string, r: SecurityReport): Promise<{ accepted: boolean; releaseKnown: boolean; quarantined: boolean }> {
    const d = r.integrity
    if (!d) throw invalid('INTEGRITY_DETAILS_MISSING', `a ${r.kind} report needs its integrity details (target, release, sha256)`)
    const state: IntegrityFlag['state'] = r.kind === 'integrity-timeout' ? 'timeout' : 'drift'
    const rel = await this.releaseByName(d.release.name, d.release.version)
    const releaseKnown = rel !== undefined && rel.sha256 === d.sha256
    const at = this.now().toISOString()
    const accepted = await this.fleet.transaction(async (tx) => {
      const event = { id: r.id, seq: r.seq, kind: r.kind, code: r.reason.code, message: r.reason.message, integrity: { ...d, releaseKnown }, at: r.at ?? at, receivedAt: at }
      if ((await tx.devices.addSecurityEvent(deviceId, event)) === 'duplicate') return false
      await tx.devices.advance(deviceId, r.seq, null, at)
      await tx.integrity.flag(deviceId, state, { at, releaseKnown, report: event })
      await tx.audit.append(
        {
          actor: `device:${deviceId}`,
          action: `device.integrity-${state}`,
          subject: `device:${deviceId}`,
          reason: r.reason.code,
          before: null,
          after: { target: d.target, release: d.release, sha256: d.sha256, firstDifferingMiB: d.firstDifferingMiB ?? null, releaseKnown, message: r.reason.message },
        },
        at,
      )
      return true
    })
    if (!accepted) return { accepted, releaseKnown, quarantined: false }
    this.policy.onFinding?.(state, releaseKnown)
    let quarantined = false
    if (state === 'drift' && this.policy.quarantine) {
      const where = d.firstDifferingMiB === undefined || d.firstDifferingMiB === null ? '' : ` (first differing MiB ${d.firstDifferingMiB})`
      try {
        await this.quarantines.quarantine(deviceId, `integrity drift in ${d.target} ${d.release.name}@${d.release.version}${where}`, INTEGRITY_ACTOR)
        quarantined = true
      } catch (e) {
        if (!(e instanceof SlipwayError && e.code === 'DEVICE_ALREADY_QUARANTINED')) throw e
      }
    }
    return { accepted, releaseKnown, quarantined }
  }

  flags(deviceId: string): Promise<IntegrityFlag[]> {
    return this.fleet.integrity.flags(deviceId)
  }
}

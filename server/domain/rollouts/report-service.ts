/**
 * Device reports: state events and health. Idempotent by the device's report id,
 * ordered by its sequence number (an older report is stored but never overwrites a
 * newer state), all-or-nothing per batch. Each accepted report that can change a
 * rollout's verdict asks for that rollout to be evaluated (coalesced by the queue).
 */
import { conflict, notFound } from '../errors.js'
import type { Release } from '../model.js'
import type { FleetCaches } from './caches.js'
import type { Gate, Rollout, RolloutMember } from '../fleet-model.js'
import type { DeviceEvent, EventsReply, HealthReply, ReceivedHealthReport, SecurityEvent } from '../../../client-sdk/src/wire/index.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import type { JobQueue } from '../ports/infrastructure.js'
import type { ReleaseRepository } from '../ports/repositories.js'
import { evaluateSoon } from './evaluate-soon.js'
import { announceNothing, rolloutTopic, type Announce } from '../live-changes.js'

/** A health report as the server's validator hands it over (checks and metrics filled in). */
type HealthReport = ReceivedHealthReport

export type ReportOutcome = EventsReply

export class ReportService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly caches: FleetCaches,
    private readonly releases: Pick<ReleaseRepository, 'findByNameVersion'>,
    /** where a report asks for its rollout's verdict (evaluate-soon.ts) */
    private readonly queue: Pick<JobQueue, 'enqueue'>,
    /** tells live pages what a report changed */
    private readonly announce: Announce = announceNothing,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async membership(deviceId: string, rolloutId: string | undefined): Promise<{ rollout: Rollout; release: Release; member: RolloutMember } | undefined> {
    if (rolloutId === undefined) return undefined
    const rollout = await this.caches.rollout(rolloutId)
    if (!rollout) throw notFound('ROLLOUT_NOT_FOUND', `no rollout ${rolloutId}`)
    const member = await this.fleet.members.find(rolloutId, deviceId)
    if (!member) throw conflict('DEVICE_NOT_IN_ROLLOUT', `this device was never assigned rollout ${rolloutId}`, { rolloutId })
    return { rollout, release: (await this.caches.release(rollout.releaseId))!, member }
  }

  async events(deviceId: string, events: DeviceEvent[]): Promise<ReportOutcome> {
    // validate the whole batch before writing any of it
    const prepared: Array<{ e: DeviceEvent; m: Awaited<ReturnType<ReportService['membership']>>; rel: Release | undefined }> = []
    for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
      const m = await this.membership(deviceId, e.rolloutId)
      const rel = e.state === 'succeeded' ? await this.releases.findByNameVersion(e.release.name, e.release.version) : undefined
      if (e.state === 'succeeded' && !rel) throw notFound('RELEASE_NOT_FOUND', `no release ${e.release.name}@${e.release.version}`)
      prepared.push({ e, m, rel })
    }
    const at = this.now().toISOString()
    const touched = new Set<string>()
    const out = await this.fleet.transaction(async (tx) => {
      const o: ReportOutcome = { accepted: 0, duplicates: 0, stale: 0 }
      for (const { e, m, rel } of prepared) {
        const ins = await tx.reports.insert({ deviceId, id: e.id, seq: e.seq, kind: 'event', rolloutId: e.rolloutId ?? null, body: JSON.stringify(e), at })
        if (ins === 'duplicate') {
          o.duplicates++
          continue
        }
        const newest = await tx.devices.advance(deviceId, e.seq, e.state, at)
        if (e.progress && newest) await tx.devices.saveProgress(deviceId, { name: e.release.name, version: e.release.version, ...e.progress, at: e.at ?? at })
        let applied = newest
        if (m) {
          const forTarget = e.release.name === m.release.name && e.release.version === m.release.version
          if (forTarget) applied = await tx.members.report(m.rollout.id, deviceId, { seq: e.seq, state: e.state, reason: e.reason ?? null, at })
          else if (e.state === 'succeeded' && m.member.previous?.version === e.release.version) await tx.members.markReverted(m.rollout.id, deviceId, at)
          touched.add(m.rollout.id)
        }
        if (e.state === 'succeeded' && rel && newest)
          await tx.devices.setInstalled(
            deviceId,
            { name: rel.name, version: rel.version, sha256: rel.sha256, securityVersion: rel.securityVersion, ...(e.mode ? { installMode: e.mode } : {}) },
            at,
          )
        if (applied) o.accepted++
        else o.stale++
      }
      return o
    })
    for (const id of touched) evaluateSoon(this.queue, id)
    if (out.accepted) this.announce(['fleet', ...[...touched].map(rolloutTopic)])
    return out
  }

  /**
   * A security event: stored and audited, never applied to a rollout member (a replayed
   * assignment must not flip a finished member to failed). Its claims are unverified.
   */
  async security(deviceId: string, r: SecurityEvent): Promise<{ accepted: boolean }> {
    const at = this.now().toISOString()
    const accepted = await this.fleet.transaction(async (tx) => {
      const event = { id: r.id, seq: r.seq, kind: r.kind, code: r.reason.code, message: r.reason.message, ...(r.claimed ? { claimed: r.claimed } : {}), at: r.at ?? at, receivedAt: at }
      if ((await tx.devices.addSecurityEvent(deviceId, event)) === 'duplicate') return false
      await tx.devices.advance(deviceId, r.seq, null, at)
      await tx.audit.append(
        { actor: `device:${deviceId}`, action: `device.${r.kind}`, subject: `device:${deviceId}`, reason: r.reason.code, before: null, after: { message: r.reason.message, claimed: r.claimed ?? null } },
        at,
      )
      return true
    })
    if (accepted) this.announce(['fleet'])
    return { accepted }
  }

  async health(deviceId: string, h: HealthReport): Promise<HealthReply> {
    const m = await this.membership(deviceId, h.rolloutId)
    const failed = healthFailures(h, m?.rollout.gate)
    const at = this.now().toISOString()
    const accepted = await this.fleet.transaction(async (tx) => {
      const ins = await tx.reports.insert({ deviceId, id: h.id, seq: h.seq, kind: 'health', rolloutId: h.rolloutId ?? null, body: JSON.stringify(h), at })
      if (ins === 'duplicate') return false
      await tx.devices.advance(deviceId, h.seq, null, at)
      await tx.devices.saveHealth(deviceId, h.release.name, h.release.version, h.metrics, at, h.seq)
      // like events: an older report delivered late is stored but never overwrites a newer one
      if (m && h.release.name === m.release.name && h.release.version === m.release.version)
        return tx.members.health(m.rollout.id, deviceId, { seq: h.seq, ok: failed.length === 0, metrics: h.metrics, at })
      return true
    })
    if (accepted && m) evaluateSoon(this.queue, m.rollout.id)
    if (accepted) this.announce(m ? ['fleet', rolloutTopic(m.rollout.id)] : ['fleet'])
    return { accepted, ok: failed.length === 0, failed }
  }
}

/** Why a health report counts as failed: boot, a named check, or an absolute metric bound. */
export function healthFailures(h: HealthReport, gate: Gate | undefined): string[] {
  const out: string[] = []
  if (!h.bootOk) out.push('boot')
  for (const c of h.checks) if (!c.ok) out.push(`check ${c.name}`)
  for (const b of gate?.metrics ?? []) {
    const v = h.metrics[b.name]
    if (b.max !== undefined && v !== undefined && v > b.max) out.push(`${b.name} ${v} > ${b.max}`)
  }
  return out
}

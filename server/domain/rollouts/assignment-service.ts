/**
 * The poll: what should this device run now? Decides from the device's installed
 * releases, its current assignment and the live rollouts (cached), and writes only when
 * the decision changes (a new signed assignment with counter + 1). Polls that change
 * nothing read the device, what it runs and its stored assignment, nothing more.
 */
import type { OnlineSigner } from '../ports/infrastructure.js'
import type { Release } from '../model.js'
import type { FleetCaches } from './caches.js'
import { cohortPosition, phaseOf } from './cohort.js'
import { blobsNamedBy } from '../devices/download-policy.js'
import type { OfferFormat } from './offer-format.js'
import type { DevicePollContext, DeviceWithInstalled, InstalledRelease, Rollout, RolloutMember, StoredAssignment } from '../fleet-model.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { notOlder, selectorMisses } from '../devices/selector.js'
import { announceNothing, rolloutTopic, type Announce } from '../live-changes.js'

/** Where deltas come from (the delta service); undefined when none is ready. */
export interface DeltaOffers {
  /** `formats`: the delta formats the device's applier takes (default: version 1 only) */
  offerFor(installedSha256: string, target: Release, formats?: readonly string[]): Promise<{ metadata: unknown; patchSha256: string; patchLength: number } | undefined>
}

export type PollResult =
  | { kind: 'none'; pollIntervalSeconds: number }
  | { kind: 'not-modified'; etag: string; pollIntervalSeconds: number }
  | { kind: 'assignment'; etag: string; body: string; pollIntervalSeconds: number }

interface Desired {
  rollout: Rollout
  release: Release
  action: 'install' | 'rollback'
  /** set for a new install: the member row to create */
  phase?: number
}

/** Re-sign an unchanged assignment when less than this much of its life is left. */
const RESIGN_BEFORE_MS = 6 * 3600 * 1000

export class AssignmentService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly caches: FleetCaches,
    private readonly signer: OnlineSigner,
    private readonly deltas: DeltaOffers | undefined,
    private readonly pollIntervalSeconds: number,
    /** writes the offer down as the document the poll serves (the HTTP layer's) */
    private readonly offers: OfferFormat,
    /** tells live pages a rollout gained a member */
    private readonly announce: Announce = announceNothing,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * `known`: what authentication just read (device, installed set, assignment; maybe cached); else it is read here.
   * `deltaFormats`: what the device's applier takes (delta-formats.ts), for a newly issued assignment's delta.
   */
  async poll(deviceId: string, ifNoneMatch: string | undefined, known?: DevicePollContext, deltaFormats?: readonly string[]): Promise<PollResult> {
    // `known` may come from the poll cache: a device holding an ETag other than the one
    // we have shows our copy may be behind (a notice still on its way), so read the database
    const trusted = known && (ifNoneMatch === undefined || ifNoneMatch === known.assignment?.etag) ? known : undefined
    const [device, current] = trusted
      ? [trusted, trusted.assignment]
      : await Promise.all([this.fleet.devices.findById(deviceId), this.fleet.assignments.find(deviceId)])
    if (!device) return { kind: 'none', pollIntervalSeconds: this.pollIntervalSeconds }
    const desired = await this.decide(device, current)
    if (!desired) return { kind: 'none', pollIntervalSeconds: this.pollIntervalSeconds }
    let stored = current
    const same = current && !current.withdrawnAt && current.rolloutId === desired.rollout.id && current.releaseId === desired.release.id && current.action === desired.action
    if (!same || Date.parse(current!.expiresAt) - this.now().getTime() < RESIGN_BEFORE_MS) stored = await this.issue(device, current, desired, deltaFormats)
    if (ifNoneMatch !== undefined && ifNoneMatch === stored!.etag) return { kind: 'not-modified', etag: stored!.etag, pollIntervalSeconds: this.pollIntervalSeconds }
    return { kind: 'assignment', etag: stored!.etag, body: stored!.body, pollIntervalSeconds: this.pollIntervalSeconds }
  }

  /** The decision, without side effects. */
  async decide(device: DeviceWithInstalled, current: StoredAssignment | undefined): Promise<Desired | undefined> {
    const installed = new Map(device.installed.map((i) => [i.name, i]))
    if (current) {
      const r = await this.caches.rollout(current.rolloutId)
      const rel = r && (await this.caches.release(r.releaseId))
      if (r && rel && r.state === 'rolled_back') {
        const back = await this.rollbackTarget(r, rel, device.id, installed.get(rel.name))
        if (back) return { rollout: r, release: back, action: 'rollback' }
      }
    }
    for (const r of await this.caches.live()) {
      if (r.state !== 'running' && r.state !== 'completed') continue
      const rel = await this.caches.release(r.releaseId)
      if (!rel || !this.wants(r, rel, device, installed.get(rel.name))) continue
      const phase = phaseOf(cohortPosition(r.id, device.id), r.phases)
      if (phase < 0 || phase > r.phase) continue
      return { rollout: r, release: rel, action: 'install', phase }
    }
    // a running, paused or completed rollout finishes the installs it started; a pause
    // withdraws the assignment from members that have not started (no report yet)
    if (current && current.action === 'install') {
      const r = await this.caches.rollout(current.rolloutId)
      const rel = r && (await this.caches.release(r.releaseId))
      if (r && rel && (r.state === 'paused' || r.state === 'completed' || r.state === 'running') && installed.get(rel.name)?.sha256 !== rel.sha256) {
        const started = r.state !== 'paused' || (await this.fleet.members.find(r.id, device.id))?.state !== 'assigned'
        if (started) return { rollout: r, release: rel, action: 'install' }
      }
    }
    return undefined
  }

  /** Whether a live rollout's release is still something this device should install. */
  private wants(r: Rollout, rel: Release, d: DeviceWithInstalled, inst: InstalledRelease | undefined): boolean {
    if (selectorMisses(r.selector, rel, d) !== undefined) return false
    return notOlder(rel, inst) === undefined
  }

  /** After a fleet rollback: the previous release, for a member that installed the new one. */
  async rollbackTarget(r: Rollout, rel: Release, deviceId: string, inst: InstalledRelease | undefined): Promise<Release | undefined> {
    if (inst?.sha256 !== rel.sha256) return undefined
    const m: RolloutMember | undefined = await this.fleet.members.find(r.id, deviceId)
    if (!m?.previous) return undefined
    const prev = await this.caches.releaseByNameVersion(rel.name, m.previous.version)
    if (!prev || prev.securityVersion !== rel.securityVersion || prev.sha256 !== m.previous.sha256) return undefined
    return prev
  }

  private async issue(device: DeviceWithInstalled, current: StoredAssignment | undefined, d: Desired, deltaFormats?: readonly string[]): Promise<StoredAssignment> {
    const counter = (current?.counter ?? 0) + 1
    const inst = device.installed.find((i) => i.name === d.release.name)
    const offer = d.action === 'install' && inst && this.deltas ? await this.deltas.offerFor(inst.sha256, d.release, deltaFormats) : undefined
    const deltaFields = offer && (offer.metadata as { signed: { sourceSha256: string; targetSha256: string; patchSha256: string; patchLength: number; format: string } }).signed
    const wire = await this.signer.signAssignment({
      deviceId: device.id,
      release: { name: d.release.name, version: d.release.version, sha256: d.release.sha256 },
      rolloutId: d.rollout.id,
      counter,
      ...(deltaFields && {
        delta: {
          sourceSha256: deltaFields.sourceSha256,
          targetSha256: deltaFields.targetSha256,
          patchSha256: deltaFields.patchSha256,
          patchLength: deltaFields.patchLength,
          format: deltaFields.format,
        },
      }),
    })
    const assignment = JSON.parse(wire.toString('utf8')) as { signed: { expires: string } }
    const body = this.offers.write({
      assignment,
      release: d.release.metadata,
      ...(offer && { delta: offer.metadata, patch: { sha256: offer.patchSha256, length: offer.patchLength } }),
      artifact: { sha256: d.release.sha256, length: d.release.length },
      action: d.action,
      pollIntervalSeconds: this.pollIntervalSeconds,
    })
    const now = this.now().toISOString()
    const next: StoredAssignment = {
      deviceId: device.id,
      counter,
      rolloutId: d.rollout.id,
      releaseId: d.release.id,
      action: d.action,
      body,
      etag: `"a${counter}"`,
      expiresAt: new Date(assignment.signed.expires).toISOString(),
      createdAt: now,
      withdrawnAt: null,
    }
    // what the replaced assignment named stays downloadable for one more assignment
    // (a device may be mid-download when the decision changes); a re-signed copy of the
    // same assignment keeps the previous set as it was
    const before = blobsNamedBy(current, this.offers)
    const after = new Set(blobsNamedBy(next, this.offers).map((b) => b.sha256))
    const changed = before.length !== after.size || before.some((b) => !after.has(b.sha256))
    const won = await this.fleet.transaction(async (tx) => {
      if (!(await tx.assignments.replace(next, current?.counter))) return false
      if (changed) await tx.downloads.setPrevious(device.id, before)
      if (d.phase !== undefined)
        await tx.members.insert({
          rolloutId: d.rollout.id,
          deviceId: device.id,
          phase: d.phase,
          previous: inst ?? null,
          state: 'assigned',
          stateSeq: -1,
          reason: null,
          healthOk: null,
          metrics: null,
          reverted: false,
          assignedAt: now,
          reportedAt: null,
        })
      return true
    })
    if (won && d.phase !== undefined) this.announce([rolloutTopic(d.rollout.id), 'fleet'])
    if (won) return next
    // a concurrent poll of the same device issued one first: serve that
    return (await this.fleet.assignments.find(device.id)) ?? next
  }
}

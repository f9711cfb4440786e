/**
 * Device management for operators: re-group and re-tag one device or many (by
 * selector), dynamic groups (saved selectors), the fleet overview, per-device progress
 * and last-seen. Every change is audited in the same transaction as the change.
 */
import { conflict, invalid, notFound } from '../errors.js'
import type { Device, DeviceGroup, DeviceWithInstalled, Selector } from '../fleet-model.js'
import type { FleetOverview, FleetRepositories, StoredReport } from '../ports/fleet-repositories.js'
import { selectorMatches } from './selector.js'
import { announceNothing, announcedAfter, type Announce } from '../live-changes.js'

/** A poll moves lastSeenAt at most this often per device, so that polls rarely write. */
export const SEEN_RESOLUTION_SECONDS = 60

export interface LabelPatch {
  group?: string
  /** replaces the whole tag set */
  tags?: string[]
  addTags?: string[]
  removeTags?: string[]
}

/** Which devices a bulk operation acts on; at least one field must be given. */
export interface BulkSelector extends Selector {
  ids?: string[]
}

export interface ProgressStep {
  state: string
  at: string
  reason?: { code: string; message: string }
}

/** What the agent reported about its newest update, step by step. */
export interface DeviceProgress {
  rolloutId: string
  release: string
  state: string
  steps: ProgressStep[]
}

const MAX_TAGS = 64
const BULK_LIMIT = 10_000

export class DeviceService {
  constructor(
    private readonly fleet: FleetRepositories,
    /** tells live pages the fleet changed */
    private readonly announce: Announce = announceNothing,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A device called: record it unless it was recorded less than a minute ago. */
  async seen(d: Pick<Device, 'id' | 'lastSeenAt'>): Promise<void> {
    const now = this.now()
    const notBefore = new Date(now.getTime() - SEEN_RESOLUTION_SECONDS * 1000).toISOString()
    if (d.lastSeenAt !== null && d.lastSeenAt >= notBefore) return
    await this.fleet.inventory.touch(d.id, now.toISOString(), notBefore)
  }

  async get(id: string): Promise<DeviceWithInstalled> {
    const d = await this.fleet.devices.findById(id)
    if (!d) throw notFound('DEVICE_NOT_FOUND', `no device ${id}`)
    return d
  }

  async update(id: string, patch: LabelPatch, actor: string, reason: string | null): Promise<DeviceWithInstalled> {
    checkPatch(patch)
    await announcedAfter(this.fleet.transaction(async (tx) => {
      const d = await tx.devices.findById(id)
      if (!d) throw notFound('DEVICE_NOT_FOUND', `no device ${id}`)
      await this.relabel(tx, d, patch, actor, reason, 'device.update')
    }), this.announce)
    return this.get(id)
  }

  /** Applies one patch to every device the selector matches; returns how many matched and changed. */
  async bulk(sel: BulkSelector, patch: LabelPatch, actor: string, reason: string | null): Promise<{ matched: number; changed: number }> {
    checkPatch(patch)
    const selector = await this.resolve(sel)
    if (selector.ids === undefined && selector.hardware === undefined && selector.group === undefined && !selector.tags?.length)
      throw invalid('DEVICE_SELECTOR_EMPTY', 'a bulk operation needs a selector (ids, hardware, group, tags or savedGroup); it never means the whole fleet by default')
    const devices = await this.matching(selector)
    if (devices.length > BULK_LIMIT) throw invalid('DEVICE_BULK_TOO_MANY', `the selector matches ${devices.length} devices; one bulk operation changes at most ${BULK_LIMIT}`)
    let changed = 0
    await announcedAfter(this.fleet.transaction(async (tx) => {
      for (const d of devices) if (await this.relabel(tx, d, patch, actor, reason, 'device.bulk-update')) changed++
    }), this.announce)
    return { matched: devices.length, changed }
  }

  private async relabel(tx: FleetRepositories, d: Device, patch: LabelPatch, actor: string, reason: string | null, action: string): Promise<boolean> {
    const group = patch.group ?? d.group
    let tags = patch.tags ?? d.tags
    tags = [...new Set([...tags, ...(patch.addTags ?? [])])].filter((t) => !(patch.removeTags ?? []).includes(t)).sort()
    if (tags.length > MAX_TAGS) throw invalid('DEVICE_TOO_MANY_TAGS', `device ${d.id} would carry ${tags.length} tags (at most ${MAX_TAGS})`)
    if (group === d.group && tags.join('\n') === [...d.tags].sort().join('\n')) return false
    const at = this.now().toISOString()
    await tx.inventory.setLabels(d.id, group, tags, at)
    await tx.audit.append({ actor, action, subject: `device:${d.id}`, reason, before: { group: d.group, tags: d.tags }, after: { group, tags } }, at)
    return true
  }

  /** A bulk selector with its savedGroup (if any) expanded. */
  private async resolve(sel: BulkSelector): Promise<BulkSelector> {
    if (sel.savedGroup === undefined) return sel
    const g = await this.group(sel.savedGroup)
    return { ...g.selector, ...sel, tags: [...new Set([...(g.selector.tags ?? []), ...(sel.tags ?? [])])] }
  }

  /** Devices matching a selector (all of them, paged through). */
  async matching(sel: BulkSelector): Promise<DeviceWithInstalled[]> {
    if (sel.ids !== undefined) {
      const out: DeviceWithInstalled[] = []
      for (const id of new Set(sel.ids)) {
        const d = await this.fleet.devices.findById(id)
        if (d && selectorMatches(sel, d)) out.push(d)
      }
      return out
    }
    const out: DeviceWithInstalled[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.fleet.devices.page({ ...(sel.hardware !== undefined && { hardware: [sel.hardware] }), ...(sel.group !== undefined && { group: sel.group }) }, after, 2000)
      for (const d of page) if (selectorMatches(sel, d)) out.push(d)
      if (page.length < 2000) return out
      after = page[page.length - 1]!.id
    }
  }

  // ---- dynamic groups

  async group(name: string): Promise<DeviceGroup> {
    const g = await this.fleet.groups.find(name)
    if (!g) throw notFound('DEVICE_GROUP_NOT_FOUND', `no dynamic group ${name}`)
    return g
  }

  listGroups(): Promise<DeviceGroup[]> {
    return this.fleet.groups.list()
  }

  async saveGroup(name: string, selector: Selector, description: string | null, actor: string, reason: string | null): Promise<DeviceGroup> {
    const { savedGroup: _s, ...plain } = selector
    if (plain.hardware === undefined && plain.group === undefined && !plain.tags?.length && !plain.inventory)
      throw invalid('DEVICE_SELECTOR_EMPTY', 'a dynamic group needs at least one of hardware, group, tags, inventory')
    const at = this.now().toISOString()
    return announcedAfter(this.fleet.transaction(async (tx) => {
      const before = await tx.groups.find(name)
      const g: DeviceGroup = { name, selector: plain, description, createdBy: before?.createdBy ?? actor, createdAt: before?.createdAt ?? at, updatedAt: at }
      await tx.groups.upsert(g)
      await tx.audit.append({ actor, action: 'device-group.save', subject: `device-group:${name}`, reason, before: before?.selector ?? null, after: plain }, at)
      return g
    }), this.announce)
  }

  async deleteGroup(name: string, actor: string, reason: string | null): Promise<void> {
    const at = this.now().toISOString()
    await announcedAfter(this.fleet.transaction(async (tx) => {
      const before = await tx.groups.find(name)
      if (!before) throw notFound('DEVICE_GROUP_NOT_FOUND', `no dynamic group ${name}`)
      if (!(await tx.groups.remove(name))) throw conflict('DEVICE_GROUP_CHANGED', `dynamic group ${name} changed underneath; try again`)
      await tx.audit.append({ actor, action: 'device-group.delete', subject: `device-group:${name}`, reason, before: before.selector, after: null }, at)
    }), this.announce)
  }

  // ---- views

  /** `notSeenFactor` × the poll interval without a call counts as not seen. */
  overview(pollIntervalSeconds: number, notSeenFactor: number): Promise<FleetOverview & { notSeenSince: string }> {
    const notSeenSince = new Date(this.now().getTime() - pollIntervalSeconds * notSeenFactor * 1000).toISOString()
    return this.fleet.inventory.overview(notSeenSince).then((o) => ({ ...o, notSeenSince }))
  }

  /** The device's newest reports, and the steps of its newest update. */
  async reports(id: string, limit: number): Promise<{ reports: StoredReport[]; progress: DeviceProgress | null }> {
    const reports = await this.fleet.reports.forDevice(id, limit)
    return { reports, progress: progressOf(reports) }
  }
}

function checkPatch(p: LabelPatch): void {
  if (p.group === undefined && p.tags === undefined && !p.addTags?.length && !p.removeTags?.length)
    throw invalid('DEVICE_PATCH_EMPTY', 'give group, tags, addTags or removeTags')
  if (p.tags !== undefined && (p.addTags?.length || p.removeTags?.length)) throw invalid('DEVICE_PATCH_INVALID', 'give tags (the whole set) or addTags/removeTags, not both')
}

interface EventBody {
  seq: number
  release: { name: string; version: string }
  state: string
  reason?: ProgressStep['reason']
}

/** The event steps of the newest update (reports newest first), oldest step first. */
export function progressOf(reports: StoredReport[]): DeviceProgress | null {
  const events = reports.filter((r) => r.kind === 'event' && r.rolloutId !== null).map((r) => ({ r, e: r.body as EventBody }))
  const newest = events[0]
  if (!newest) return null
  const label = (e: EventBody) => `${e.release.name}@${e.release.version}`
  const release = label(newest.e)
  const steps = events.filter(({ r, e }) => r.rolloutId === newest.r.rolloutId && label(e) === release).sort((a, b) => a.e.seq - b.e.seq)
  return {
    rolloutId: newest.r.rolloutId!,
    release,
    state: steps.at(-1)!.e.state,
    steps: steps.map(({ r, e }) => ({ state: e.state, at: r.at, ...(e.reason && { reason: e.reason }) })),
  }
}

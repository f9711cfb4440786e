/**
 * What operators read about devices (issue 16 §2): the filtered list, one device in
 * full (its rollouts, download, security events, inventory, integrity flags), why it is
 * or is not offered an update, and the audit log. The management routes ask this
 * service; they reach no repository or cache themselves.
 */
import { notFound } from '../errors.js'
import type { AssignmentService } from '../rollouts/assignment-service.js'
import type { FleetCaches } from '../rollouts/caches.js'
import { explainDevice, type Explanation } from '../rollouts/explain.js'
import type { IntegrityService } from './integrity-service.js'
import type { InventoryService } from './inventory-service.js'
import type { AuditEntry, DeviceSecurityEvent, DeviceWithInstalled, DownloadProgress, RolloutMember } from '../fleet-model.js'
import type { DeviceListQuery, FleetRepositories } from '../ports/fleet-repositories.js'

/** A device list query as operators put it. */
export interface DeviceSearch extends Omit<DeviceListQuery, 'name' | 'version' | 'seenBefore'> {
  /** runs this release: `name` or `name@version` */
  release?: string
  /** only devices not seen for this many poll intervals */
  notSeenFactor?: number
}

/** One device in full. */
export type DeviceRecord = Omit<DeviceWithInstalled, 'inventory'> & {
  rollouts: RolloutMember[]
  progress?: DownloadProgress
  securityEvents: DeviceSecurityEvent[]
  inventory: Awaited<ReturnType<InventoryService['view']>>
  integrity: Awaited<ReturnType<IntegrityService['flags']>>
}

/** Security events shown with a device: the newest ones. */
const SECURITY_EVENTS_SHOWN = 20

export class DeviceDirectory {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly caches: FleetCaches,
    private readonly assignments: AssignmentService,
    private readonly inventory: Pick<InventoryService, 'view'>,
    private readonly integrity: Pick<IntegrityService, 'flags'>,
    /** what notSeenFactor multiplies, seconds */
    private readonly pollIntervalSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A page of matching devices, and how many match in all. */
  async list(s: DeviceSearch): Promise<{ devices: DeviceWithInstalled[]; total: number }> {
    const { release, notSeenFactor, limit, after, ...rest } = s
    const at = release?.lastIndexOf('@') ?? -1
    const named = release === undefined ? {} : at > 0 ? { name: release.slice(0, at), version: release.slice(at + 1) } : { name: release }
    const seen = notSeenFactor === undefined ? {} : { seenBefore: new Date(this.now().getTime() - notSeenFactor * this.pollIntervalSeconds * 1000).toISOString() }
    const filter = { ...rest, ...named, ...seen }
    const devices = await this.fleet.devices.list({ ...filter, limit, ...(after !== undefined && { after }) })
    return { devices, total: await this.fleet.inventory.count(filter) }
  }

  async show(deviceId: string): Promise<DeviceRecord> {
    const d = await this.fleet.devices.findById(deviceId)
    if (!d) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
    const [rollouts, progress, securityEvents, inventory, integrity] = await Promise.all([
      this.fleet.members.forDevice(d.id),
      this.fleet.devices.progress(d.id),
      this.fleet.devices.securityEvents(d.id, SECURITY_EVENTS_SHOWN),
      this.inventory.view(d.id),
      this.integrity.flags(d.id),
    ])
    return { ...d, rollouts, ...(progress ? { progress } : {}), securityEvents, inventory, integrity }
  }

  explain(deviceId: string): Promise<Explanation> {
    return explainDevice(deviceId, this.fleet, this.caches, this.assignments)
  }

  /** The hash-chained audit log, oldest first, after entry `after`. */
  audit(q: { after: number; limit: number; subject?: string }): Promise<AuditEntry[]> {
    return this.fleet.audit.list(q)
  }
}

/** Fleet persistence ports. `transaction` runs a unit of work atomically on one connection. */
import type {
  AuditEntry,
  Device,
  DevicePollContext,
  DeviceSecurityEvent,
  DownloadProgress,
  DeviceWithInstalled,
  EnrollmentToken,
  InstalledRelease,
  MemberCounts,
  NewAuditEntry,
  Rollout,
  RolloutMember,
  StoredAssignment,
} from './model.js'

export interface EnrollmentTokenRepository {
  insert(t: EnrollmentToken): Promise<void>
  findByHash(tokenHash: string): Promise<EnrollmentToken | undefined>
  /** Takes one use if uses < maxUses; false when none was left (a concurrent enrollment took it). */
  takeUse(id: string): Promise<boolean>
  list(): Promise<EnrollmentToken[]>
  revoke(id: string, at: string): Promise<boolean>
}

export interface DeviceListQuery {
  group?: string
  tag?: string
  /** last reported state */
  state?: string
  /** release name, optionally with `version` */
  name?: string
  version?: string
  limit: number
  after?: string
}

export interface DeviceRepository {
  findByHardwareId(hardwareId: string): Promise<Device | undefined>
  insert(d: Device): Promise<void>
  /** Re-enrollment: new credential, hardware, group and tags. */
  update(d: Device): Promise<void>
  /** The device holding this credential, with what it runs and its current assignment (one indexed join). */
  findByCredentialHash(hash: string): Promise<DevicePollContext | undefined>
  findById(id: string): Promise<DeviceWithInstalled | undefined>
  installed(deviceId: string): Promise<InstalledRelease[]>
  /** Replaces the whole installed set (enrollment). */
  replaceInstalled(deviceId: string, installed: InstalledRelease[], at: string): Promise<void>
  setInstalled(deviceId: string, r: InstalledRelease, at: string): Promise<void>
  /** Moves last_seq forward (only forward) and records the state; true when this seq was the newest. */
  advance(deviceId: string, seq: number, state: string | null, at: string): Promise<boolean>
  list(q: DeviceListQuery): Promise<DeviceWithInstalled[]>
  /** Devices whose hardware and group match (tags are checked by the caller), in pages. */
  page(filter: { hardware?: string[]; group?: string }, after: string | undefined, limit: number): Promise<DeviceWithInstalled[]>
  /** Versions of `name` most run by devices of these hardware types, most devices first. */
  topInstalled(name: string, hardware: string[], limit: number): Promise<Array<{ version: string; sha256: string; devices: number }>>
  saveHealth(deviceId: string, name: string, version: string, metrics: Record<string, number>, at: string): Promise<void>
  /** Last reported values of one metric by devices running `name` at another version than `exceptVersion`. */
  metricValues(name: string, exceptVersion: string, metric: string, limit: number): Promise<number[]>
  saveProgress(deviceId: string, p: DownloadProgress): Promise<void>
  progress(deviceId: string): Promise<DownloadProgress | undefined>
  /** 'duplicate' when (device, id) was stored before. */
  addSecurityEvent(deviceId: string, e: DeviceSecurityEvent): Promise<'created' | 'duplicate'>
  /** newest first */
  securityEvents(deviceId: string, limit: number): Promise<DeviceSecurityEvent[]>
}

export interface RolloutListQuery {
  state?: Rollout['state']
  limit: number
  after?: string
}

export interface RolloutRepository {
  insert(r: Rollout): Promise<void>
  findById(id: string): Promise<Rollout | undefined>
  list(q: RolloutListQuery): Promise<Rollout[]>
  /** Running and paused rollouts, newest first. */
  live(): Promise<Rollout[]>
  /** What the poll considers, newest first: running, paused, and the `completedLimit` most recently completed. */
  offering(completedLimit: number): Promise<Rollout[]>
  /** Optimistic lock: writes `next` only if the stored version is still `next.version - 1`. */
  compareAndSet(next: Rollout): Promise<boolean>
}

export interface MemberRepository {
  /** 'duplicate' when the device already is a member. */
  insert(m: RolloutMember): Promise<'created' | 'duplicate'>
  find(rolloutId: string, deviceId: string): Promise<RolloutMember | undefined>
  /** Applies a reported state unless a newer one (higher seq) is stored; true when applied. */
  report(rolloutId: string, deviceId: string, r: { seq: number; state: RolloutMember['state']; reason: RolloutMember['reason']; at: string }): Promise<boolean>
  health(rolloutId: string, deviceId: string, h: { ok: boolean; metrics: Record<string, number>; at: string }): Promise<void>
  markReverted(rolloutId: string, deviceId: string, at: string): Promise<void>
  /** Counts per phase of first assignment (sum them for the cumulative figure); `silentBefore`: pending members assigned before this count as failed. */
  counts(rolloutId: string, silentBefore: string): Promise<Map<number, MemberCounts>>
  /** Last reported values of one metric by the rollout's members. */
  metricValues(rolloutId: string, metric: string): Promise<number[]>
  forDevice(deviceId: string): Promise<RolloutMember[]>
  /** Distinct previous versions of members whose previous securityVersion is below `sv`. */
  previousSecurityVersionsBelow(rolloutId: string, sv: number): Promise<string[]>
}

export interface AssignmentRepository {
  find(deviceId: string): Promise<StoredAssignment | undefined>
  /** Writes a new assignment only if the stored counter is still `a.counter - 1` (or none is stored and a.counter is the first). */
  replace(a: StoredAssignment, previousCounter: number | undefined): Promise<boolean>
  remove(deviceId: string): Promise<void>
}

export interface ReportRepository {
  /** 'duplicate' when (device, id) was stored before. */
  insert(r: { deviceId: string; id: string; seq: number; kind: 'event' | 'health'; rolloutId: string | null; body: string; at: string }): Promise<'created' | 'duplicate'>
}

export interface AuditRepository {
  /** Appends after the current head, in the caller's transaction. */
  append(e: NewAuditEntry, at: string): Promise<AuditEntry>
  list(q: { after?: number; limit: number; subject?: string }): Promise<AuditEntry[]>
}

export interface FleetRepositories {
  enrollmentTokens: EnrollmentTokenRepository
  devices: DeviceRepository
  rollouts: RolloutRepository
  members: MemberRepository
  assignments: AssignmentRepository
  reports: ReportRepository
  audit: AuditRepository
  /** Runs `fn` in one database transaction (retried by the caller on conflicts). */
  transaction<T>(fn: (tx: FleetRepositories) => Promise<T>): Promise<T>
}

/** Fleet persistence ports. `transaction` runs a unit of work atomically on one connection. */
import type { ReleasePolicyRepository } from '../releases/provenance-policy.js'
import type {
  AuditEntry,
  Device,
  DeviceGroup,
  DeviceCertificate,
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
} from '../fleet-model.js'
import type { InventoryPackage, InventorySelector, StoredInventory } from '../devices/inventory.js'

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
  hardware?: string
  /** not seen since this instant (or never) */
  seenBefore?: string
  /** prefix of the device id or hardware id */
  search?: string
  tag?: string
  /** last reported state */
  state?: string
  /** release name, optionally with `version` */
  name?: string
  version?: string
  /** runs a release whose signed provenance carries this source revision / SBOM digest */
  sourceRevision?: string
  sbomDigest?: string
  /** exact matches on the latest inventory (issue 12 §3) */
  inventory?: InventorySelector
  /** only these devices (a package-version search resolved to ids) */
  ids?: string[]
  /** devices flagged by an integrity check: 'drift' or 'timeout' */
  integrity?: string
  limit: number
  after?: string
}

export interface DeviceRepository {
  findByHardwareId(hardwareId: string): Promise<Device | undefined>
  insert(d: Device): Promise<void>
  /** Re-enrollment: new credential, hardware and tags (never the group). */
  update(d: Device): Promise<void>
  setKeyTpmResident(deviceId: string, resident: boolean): Promise<void>
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
  /** Sets (or with null lifts) the quarantine mark; false when it was already set (lifted): a concurrent change won. */
  setQuarantine(id: string, q: { at: string; reason: string } | null): Promise<boolean>
  /** Replaces the stored credential hash (revocation stores a value no credential hashes to). */
  setCredentialHash(id: string, credentialHash: string, at: string): Promise<void>
  /** Deletes the identity (credential, hardware id binding), keeps the row and its history. */
  decommission(id: string, at: string): Promise<void>
  /** Devices whose hardware and group match, neither quarantined nor decommissioned (tags are checked by the caller), in pages. */
  page(filter: { hardware?: string[]; group?: string }, after: string | undefined, limit: number): Promise<DeviceWithInstalled[]>
  /** Versions of `name` most run by devices of these hardware types, most devices first. */
  topInstalled(name: string, hardware: string[], limit: number): Promise<Array<{ version: string; sha256: string; devices: number }>>
  /** Keeps the newest report by seq: an older one arriving late changes nothing. */
  saveHealth(deviceId: string, name: string, version: string, metrics: Record<string, number>, at: string, seq: number): Promise<void>
  /** Last reported values of one metric by devices running `name` at another version than `exceptVersion`. */
  metricValues(name: string, exceptVersion: string, metric: string, limit: number): Promise<number[]>
  saveProgress(deviceId: string, p: DownloadProgress): Promise<void>
  progress(deviceId: string): Promise<DownloadProgress | undefined>
  /** 'duplicate' when (device, id) was stored before. */
  addSecurityEvent(deviceId: string, e: DeviceSecurityEvent): Promise<'created' | 'duplicate'>
  /** newest first */
  securityEvents(deviceId: string, limit: number): Promise<DeviceSecurityEvent[]>
}

/** Counts of devices by one field, most devices first. */
export type Breakdown = Array<{ key: string; devices: number }>

export interface FleetOverview {
  total: number
  byState: Breakdown
  byHardware: Breakdown
  byGroup: Breakdown
  /** `name@version` of installed releases */
  byVersion: Breakdown
  /** devices not seen since `notSeenSince` (or never) */
  notSeen: number
  /** devices in quarantine (QuarantineService) */
  quarantined: number
}

/** Device inventory for operators: labels, last-seen, overview figures. */
export interface DeviceInventoryRepository {
  /** Moves last_seen_at to `at` unless it is already at or after `notBefore`; true when written. */
  touch(deviceId: string, at: string, notBefore: string): Promise<boolean>
  setLabels(deviceId: string, group: string, tags: string[], at: string): Promise<void>
  count(q: Omit<DeviceListQuery, 'limit' | 'after'>): Promise<number>
  overview(notSeenSince: string): Promise<FleetOverview>
}

export interface DeviceGroupRepository {
  upsert(g: DeviceGroup): Promise<void>
  find(name: string): Promise<DeviceGroup | undefined>
  list(): Promise<DeviceGroup[]>
  remove(name: string): Promise<boolean>
}

export interface ReservationRepository {
  reserve(r: { id: string; createdBy: string; createdAt: string; expiresAt: string }): Promise<void>
  /** Removes an unexpired reservation; false when there is none (unknown, used or expired). */
  take(id: string, now: string): Promise<boolean>
  exists(id: string, now: string): Promise<boolean>
}

export interface StoredReport {
  deviceId: string
  id: string
  seq: number
  kind: 'event' | 'health'
  rolloutId: string | null
  body: unknown
  at: string
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
  /** false when a health report with a higher seq is already applied (this one is stale) */
  health(rolloutId: string, deviceId: string, h: { seq: number; ok: boolean; metrics: Record<string, number>; at: string }): Promise<boolean>
  markReverted(rolloutId: string, deviceId: string, at: string): Promise<void>
  /** Counts per phase of first assignment (sum them for the cumulative figure); `silentBefore`: pending members assigned before this count as failed. */
  counts(rolloutId: string, silentBefore: string): Promise<Map<number, MemberCounts>>
  /** Last reported values of one metric by the rollout's members. */
  metricValues(rolloutId: string, metric: string): Promise<number[]>
  forDevice(deviceId: string): Promise<RolloutMember[]>
  /** Takes the device out of its rollouts' counts (quarantine, decommission); how many memberships it withdrew. */
  withdraw(deviceId: string, at: string): Promise<number>
  /** Decided members (healthy or failed, as counts() classifies them) by the time of their newest report. */
  decidedTimeline(rolloutId: string): Promise<Array<{ at: string; failed: boolean }>>
  /** Distinct previous versions of members whose previous securityVersion is below `sv`. */
  previousSecurityVersionsBelow(rolloutId: string, sv: number): Promise<string[]>
}

export interface AssignmentRepository {
  find(deviceId: string): Promise<StoredAssignment | undefined>
  /** Writes a new assignment only if the stored counter is still `a.counter - 1` (or none is stored and a.counter is the first). */
  replace(a: StoredAssignment, previousCounter: number | undefined): Promise<boolean>
  remove(deviceId: string): Promise<void>
  /** Marks the current assignment withdrawn (kept for its counter); false when there was none to withdraw. */
  withdraw(deviceId: string, at: string): Promise<boolean>
}

/** What a device may download and how much it did (issue 10 §3). */
export interface DownloadRepository {
  /** A blob named by the device's previous assignment. */
  previousBlob(deviceId: string, sha256: string): Promise<{ sha256: string; length: number } | undefined>
  /** Replaces the device's previous-assignment blobs (empty: none). */
  setPrevious(deviceId: string, blobs: Array<{ sha256: string; length: number }>): Promise<void>
  record(r: { id: string; deviceId: string; sha256: string; bytes: number; at: string }): Promise<void>
  /** Corrects a recorded download to the bytes actually sent. */
  settle(id: string, bytes: number): Promise<void>
  remove(id: string): Promise<void>
  /** Bytes of `sha256` the device downloaded at or after `since`, and the oldest such download. */
  since(deviceId: string, sha256: string, since: string): Promise<{ bytes: number; oldest: string | undefined }>
  /** Deletes ledger rows older than `before`; how many. */
  prune(before: string): Promise<number>
}

export interface ReportRepository {
  /** 'duplicate' when (device, id) was stored before. */
  insert(r: { deviceId: string; id: string; seq: number; kind: 'event' | 'health'; rolloutId: string | null; body: string; at: string }): Promise<'created' | 'duplicate'>
  /** A device's newest reports, newest first. */
  forDevice(deviceId: string, limit: number): Promise<StoredReport[]>
}

export interface AuditRepository {
  /** Appends after the current head, in the caller's transaction. */
  append(e: NewAuditEntry, at: string): Promise<AuditEntry>
  list(q: { after?: number; limit: number; subject?: string }): Promise<AuditEntry[]>
}

/** The latest inventory per device, its change history and package lists (issue 12 §3). */
export interface InventoryRepository {
  find(deviceId: string): Promise<StoredInventory | undefined>
  /** Writes the latest inventory; when `changed`, also a history row, its models and the device row's facts. */
  save(deviceId: string, inv: StoredInventory, changed: boolean): Promise<void>
  /** Replaces the device's package list (and records whose digest it is). */
  replacePackages(deviceId: string, digest: string, list: InventoryPackage[]): Promise<void>
  /** newest first */
  history(deviceId: string, limit: number): Promise<Array<{ digest: string; changedAt: string; report: unknown }>>
  /** Every device that has a package of this name, with the version(s) it has. */
  packageHolders(name: string): Promise<Array<{ deviceId: string; version: string }>>
}

/** An integrity finding on a device (issue 12 §4), kept until an operator clears it. */
export interface IntegrityFlag {
  state: 'drift' | 'timeout'
  firstAt: string
  lastAt: string
  reports: number
  /** false when any report of it named a release the server does not know (or with another sha256) */
  releaseKnown: boolean
  lastReport: unknown
}

export interface IntegrityRepository {
  /** Adds a report to the device's flag of that state (creating it). */
  flag(deviceId: string, state: IntegrityFlag['state'], r: { at: string; releaseKnown: boolean; report: unknown }): Promise<void>
  flags(deviceId: string): Promise<IntegrityFlag[]>
  /** Removes the device's flags; how many there were. */
  clear(deviceId: string): Promise<number>
}

export interface DeviceCertificateRepository {
  insert(c: DeviceCertificate): Promise<void>
  /** The certificate and its device (with what it runs and its assignment), in one indexed join: what every device request reads. */
  findWithDevice(serial: string): Promise<{ certificate: DeviceCertificate; device: DevicePollContext } | undefined>
  findBySerial(serial: string): Promise<DeviceCertificate | undefined>
  listForDevice(deviceId: string): Promise<DeviceCertificate[]>
  /** Revokes the device's certificates in `states` (all unrevoked ones by default) except `exceptSerial`; returns the serials revoked. */
  revokeForDevice(deviceId: string, at: string, reason: string, o?: { states?: Array<'active' | 'pending'>; exceptSerial?: string }): Promise<string[]>
  /** pending → active; false when it was not pending. */
  activate(serial: string): Promise<boolean>
  /** Revoked certificates not yet expired at `now` (what the CRL lists). */
  revokedUnexpired(now: string): Promise<Array<{ serial: string; revokedAt: string }>>
  /** Revocations ever made: the CRL number, the same on every replica. */
  revocationCount(): Promise<number>
}

/** The device CA certificate shared by all replicas. */
export interface DeviceCaRepository {
  get(): Promise<string | undefined>
  /** Stores `pem` unless a certificate is stored already; returns the stored one. */
  insertIfAbsent(pem: string, at: string): Promise<string>
}

export interface FleetRepositories {
  inventoryReports: InventoryRepository
  integrity: IntegrityRepository
  enrollmentTokens: EnrollmentTokenRepository
  devices: DeviceRepository
  inventory: DeviceInventoryRepository
  groups: DeviceGroupRepository
  reservations: ReservationRepository
  rollouts: RolloutRepository
  members: MemberRepository
  assignments: AssignmentRepository
  reports: ReportRepository
  audit: AuditRepository
  downloads: DownloadRepository
  /** provenance policies per release name (audited with the fleet's changes) */
  releasePolicies: ReleasePolicyRepository
  certificates: DeviceCertificateRepository
  deviceCa: DeviceCaRepository
  /** Runs `fn` in one database transaction (retried by the caller on conflicts). */
  transaction<T>(fn: (tx: FleetRepositories) => Promise<T>): Promise<T>
}

/** Fleet records: devices, enrollment tokens, rollouts, their members, the audit log. */
import type { DeviceState, InstallMode } from '../../client-sdk/src/wire/index.js'
import type { InventoryFacts, InventorySelector } from './devices/inventory.js'

export interface EnrollmentToken {
  id: string
  tokenHash: string
  group: string
  maxUses: number
  uses: number
  expiresAt: string
  revokedAt: string | null
  createdBy: string
  createdAt: string
  /** refuse devices whose key is not proven TPM-resident (key attestation) */
  requireTpm?: boolean
}

export type { InstallMode }

export interface InstalledRelease {
  name: string
  version: string
  sha256: string
  securityVersion: number
  /** how the device got it, as its `succeeded` event said (absent: enrolled with it, or not said) */
  installMode?: InstallMode
}

export interface Device {
  id: string
  hardwareId: string
  hardware: string
  group: string
  tags: string[]
  credentialHash: string
  lastSeq: number
  lastState: string | null
  lastReportAt: string | null
  /** last call of any kind (poll or report); polls move it at most once a minute */
  lastSeenAt: string | null
  createdAt: string
  updatedAt: string
  /** set while quarantined (every device route answers 403 DEVICE_QUARANTINED); written only by QuarantineService */
  quarantinedAt?: string | null
  quarantineReason?: string | null
  /** set once decommissioned: identity gone, history kept */
  decommissionedAt?: string | null
  /** the selector facts of the device's latest inventory report (absent: none yet) */
  inventory?: InventoryFacts
  /** the key of its active certificate was proven TPM-resident at enrollment (read-only: set through setKeyTpmResident) */
  keyTpmResident?: boolean
}

export interface DeviceWithInstalled extends Device {
  installed: InstalledRelease[]
}

/** What the poll needs, read in one query: the device, what it runs, its current assignment. */
export interface DevicePollContext extends DeviceWithInstalled {
  assignment: StoredAssignment | undefined
}

export interface Selector {
  hardware?: string
  group?: string
  /** the device must carry every tag listed */
  tags?: string[]
  /** the dynamic group this selector was copied from (when a rollout targeted one) */
  savedGroup?: string
  /** exact matches on the device's latest inventory (issue 12 §3) */
  inventory?: InventorySelector
}

/** A dynamic group: a saved selector over inventory fields; membership is computed. */
export interface DeviceGroup {
  name: string
  selector: Selector
  description: string | null
  createdBy: string
  createdAt: string
  updatedAt: string
}

export interface Phase {
  /** cumulative share of the matching fleet, 0 < percent ≤ 100, strictly increasing */
  percent: number
  /** healthy devices (cumulative) needed before this phase may be left */
  minDevices: number
  /** time the phase must run before it may be left */
  soakSeconds: number
}

export interface MetricBound {
  /** a metric name the agent reports, e.g. `inference_p95_ms` */
  name: string
  /** a device reporting more than this counts as failed */
  max?: number
  /** breach when the rollout's median exceeds the previous release's median × this */
  maxRatioToPrevious?: number
}

export interface Gate {
  /** the failure rate the rollout must stay under, 0..1 */
  maxFailureRate: number
  /** decided devices (healthy + failed) needed before the rate is judged */
  minSample: number
  /** two-sided confidence of the Wilson bounds, e.g. 0.95 */
  confidence: number
  /** breach at this many failed devices, whatever the rate */
  maxFailures?: number
  /** an assigned device silent this long after assignment counts as failed */
  silentAfterSeconds: number
  metrics?: MetricBound[]
}

export const ROLLOUT_STATES = ['draft', 'running', 'paused', 'completed', 'aborted', 'rolled_back'] as const
export type RolloutState = (typeof ROLLOUT_STATES)[number]
export type BreachAction = 'pause' | 'rollback'

export interface Rollout {
  id: string
  releaseId: string
  selector: Selector
  phases: Phase[]
  gate: Gate
  breachAction: BreachAction
  state: RolloutState
  /** index into phases */
  phase: number
  phaseStartedAt: string | null
  stateReason: string | null
  /** optimistic-lock version, +1 on every transition */
  version: number
  createdBy: string
  createdAt: string
  updatedAt: string
}

/** the states a device reports (the one list is the device contract's) */
export type DeviceReportState = DeviceState

export interface RolloutMember {
  rolloutId: string
  deviceId: string
  phase: number
  previous: InstalledRelease | null
  /** 'assigned' until the first report, then the newest reported state */
  state: 'assigned' | DeviceReportState
  stateSeq: number
  reason: { code: string; message: string } | null
  healthOk: boolean | null
  metrics: Record<string, number> | null
  reverted: boolean
  assignedAt: string
  reportedAt: string | null
  /** set when quarantine or decommission took the device out of the rollout's counts */
  withdrawnAt?: string | null
}

export interface StoredAssignment {
  deviceId: string
  counter: number
  rolloutId: string
  releaseId: string
  action: 'install' | 'rollback'
  /** the document the poll serves, as OfferFormat wrote it (the wire PollOffer) */
  body: string
  etag: string
  expiresAt: string
  createdAt: string
  /** set when quarantine or decommission withdrew it: never served again, names nothing downloadable */
  withdrawnAt?: string | null
}

export interface AuditEntry {
  seq: number
  at: string
  /** `token:<id>`, `device:<id>` or `system:<what>` */
  actor: string
  action: string
  /** e.g. `rollout:<id>` */
  subject: string
  reason: string | null
  before: unknown
  after: unknown
  prevHash: string
  hash: string
}

export type NewAuditEntry = Pick<AuditEntry, 'actor' | 'action' | 'subject' | 'reason' | 'before' | 'after'>

/** Per-phase and overall figures of a rollout's members at one instant. */
export interface MemberCounts {
  assigned: number
  healthy: number
  failed: number
  /** pending past the silent deadline (included in failed) */
  silent: number
  pending: number
  reverted: number
}

/** How far a device's current download got (from its latest progress event). */
export interface DownloadProgress {
  name: string
  version: string
  bytes: number
  total: number
  at: string
}

/** A refused offer (or other finding) a device reported: never an install outcome. */
export interface DeviceSecurityEvent {
  id: string
  seq: number
  kind: string
  code: string
  message: string
  claimed?: { rolloutId?: string; release?: { name: string; version: string } }
  /** an integrity finding's details, with whether the release it names is known */
  integrity?: unknown
  at: string
  receivedAt: string
}

/** A device certificate (migration 013). `state` decides what the key may do. */
export interface DeviceCertificate {
  /** lowercase hex, no leading zeros; the `keyid` of message signatures */
  serial: string
  deviceId: string
  /** active: the device; pending: a re-enrollment claim awaiting approval; revoked: refused */
  state: 'active' | 'pending' | 'revoked'
  keyType: 'ecdsa' | 'ed25519'
  /** SubjectPublicKeyInfo DER, base64 */
  publicKey: string
  keyTpmResident: boolean
  /** PEM */
  certificate: string
  /** what a pending claimant enrolled with; applied when an operator approves it */
  claim: DeviceClaim | null
  notBefore: string
  notAfter: string
  issuedAt: string
  revokedAt: string | null
  revocationReason: string | null
}

export interface DeviceClaim {
  hardware: string
  tags: string[]
  installed: InstalledRelease[]
}

/** Kysely table types: the SQL shape of migrations/*.sql. */
import type { ColumnType } from 'kysely'

export interface ApiTokensTable {
  id: string
  role: string
  label: string
  token_hash: string
  created_at: string
  expires_at: string | null
  revoked_at: string | null
}

export interface ReleasesTable {
  id: string
  name: string
  version: string
  kind: string
  sha256: string
  length: number
  security_version: number
  hardware: string
  provenance: string
  metadata: string | null
  created_by: string
  created_at: string
}

export interface TrustRootsTable {
  version: number
  document: string
  sha256: string
  created_at: string
}

export interface EnrollmentTokensTable {
  id: string
  token_hash: string
  group_name: string
  max_uses: number
  uses: number
  expires_at: string
  revoked_at: string | null
  created_by: string
  created_at: string
  /** migration 013; defaults to 0 */
  require_tpm: ColumnType<number, number | undefined, number>
}

export interface DevicesTable {
  id: string
  hardware_id: string
  hardware: string
  group_name: string
  tags: string
  credential_hash: string
  installed: string
  last_seq: number
  last_state: string | null
  last_report_at: string | null
  last_seen_at: string | null
  created_at: string
  updated_at: string
  /** migration 006 */
  quarantined_at: string | null
  quarantine_reason: string | null
  decommissioned_at: string | null
  /** migration 011: selector facts of the latest inventory (JSON) */
  inventory: string | null
  /** migration 013; defaults to 0 */
  key_tpm_resident: ColumnType<number, number | undefined, number>
}

export interface DeviceInstalledTable {
  device_id: string
  name: string
  version: string
  sha256: string
  security_version: number
  updated_at: string
  install_mode: string | null
}

export interface DeviceProgressTable {
  device_id: string
  name: string
  version: string
  bytes: number
  total: number
  at: string
}

export interface DeviceSecurityEventsTable {
  device_id: string
  report_id: string
  seq: number
  kind: string
  code: string
  body: string
  received_at: string
}

export interface RolloutsTable {
  id: string
  release_id: string
  selector: string
  phases: string
  gate: string
  breach_action: string
  state: string
  phase: number
  phase_started_at: string | null
  state_reason: string | null
  version: number
  created_by: string
  created_at: string
  updated_at: string
}

export interface RolloutDevicesTable {
  rollout_id: string
  device_id: string
  phase: number
  previous_version: string | null
  previous_sha256: string | null
  previous_security_version: number | null
  state: string
  state_seq: number
  reason: string | null
  health_ok: number | null
  metrics: string | null
  health_seq: number | null
  reverted: number
  assigned_at: string
  reported_at: string | null
  /** migration 006: a quarantined or decommissioned device's membership */
  withdrawn_at: string | null
}

export interface DeviceAssignmentsTable {
  device_id: string
  counter: number
  rollout_id: string
  release_id: string
  action: string
  body: string
  etag: string
  expires_at: string
  created_at: string
  /** migration 006 */
  withdrawn_at: string | null
}

/** migration 006: what the previous assignment named, still downloadable */
export interface DevicePreviousBlobsTable {
  device_id: string
  sha256: string
  length: number
}

/** migration 006: the download ledger of the exfiltration budget */
export interface DeviceDownloadsTable {
  id: string
  device_id: string
  sha256: string
  bytes: number
  at: string
}

export interface DeviceReportsTable {
  device_id: string
  report_id: string
  seq: number
  kind: string
  rollout_id: string | null
  body: string
  received_at: string
}

export interface DeviceHealthTable {
  device_id: string
  name: string
  version: string
  metrics: string
  at: string
  seq: number | null
}

export interface AuditLogTable {
  seq: number
  at: string
  actor: string
  action: string
  subject: string
  reason: string | null
  before_state: string | null
  after_state: string | null
  prev_hash: string
  hash: string
}

export interface DeltasTable {
  id: string
  from_release_id: string
  to_release_id: string
  source_sha256: string
  target_sha256: string
  target_length: number
  state: string
  built_bytes: number
  patch_sha256: string | null
  patch_length: number | null
  compressed_target_length: number | null
  metadata: string | null
  error_code: string | null
  error_message: string | null
  attempts: number
  build_ms: number | null
  created_at: string
  updated_at: string
  finished_at: string | null
}

export interface DeltaVariantsTable {
  source_sha256: string
  target_sha256: string
  format: string
  patch_sha256: string
  patch_length: number
  metadata: string
  created_at: string
  updated_at: string
}

export interface DeviceGroupsTable {
  name: string
  selector: string
  description: string | null
  created_by: string
  created_at: string
  updated_at: string
}

export interface RolloutReservationsTable {
  id: string
  created_by: string
  created_at: string
  expires_at: string
}

export interface MultipartUploadsTable {
  id: string
  object_key: string
  s3_upload_id: string
  size: number | null
  part_size: number
  parts_length: number
  tail_length: number
  metadata: string
  created_at: string
  completed_at: string | null
}

export interface MultipartUploadPartsTable {
  upload_id: string
  part_number: number
  etag: string
  length: number
}

/** migration 012 */
export interface ReleasePoliciesTable {
  name: string
  required: string
  updated_by: string
  updated_at: string
}

/** migration 011 */
export interface DeviceInventoryTable {
  device_id: string
  digest: string
  os: string | null
  kernel: string | null
  agent_version: string | null
  bootloader: string | null
  tpm: number | null
  packages_digest: string | null
  packages_list_digest: string | null
  body: string
  reported_at: string
  changed_at: string
}

export interface DeviceInventoryHistoryTable {
  device_id: string
  digest: string
  body: string
  changed_at: string
}

export interface DeviceInventoryModelsTable {
  device_id: string
  name: string
  version: string
  sha256: string
}

export interface DevicePackagesTable {
  device_id: string
  name: string
  version: string
}

export interface DeviceIntegrityTable {
  device_id: string
  state: string
  first_at: string
  last_at: string
  reports: number
  release_known: number
  last_report: string
}

export interface DeviceCertificatesTable {
  serial: string
  device_id: string
  state: string
  key_type: string
  public_key: string
  key_tpm_resident: number
  certificate: string
  claim: string | null
  not_before: string
  not_after: string
  issued_at: string
  revoked_at: string | null
  revocation_reason: string | null
}

export interface DeviceCaTable {
  id: number
  certificate: string
  created_at: string
}

export interface Database {
  device_inventory: DeviceInventoryTable
  device_inventory_history: DeviceInventoryHistoryTable
  device_inventory_models: DeviceInventoryModelsTable
  device_packages: DevicePackagesTable
  device_integrity: DeviceIntegrityTable
  device_groups: DeviceGroupsTable
  rollout_reservations: RolloutReservationsTable
  api_tokens: ApiTokensTable
  releases: ReleasesTable
  trust_roots: TrustRootsTable
  enrollment_tokens: EnrollmentTokensTable
  devices: DevicesTable
  device_installed: DeviceInstalledTable
  device_progress: DeviceProgressTable
  device_security_events: DeviceSecurityEventsTable
  rollouts: RolloutsTable
  rollout_devices: RolloutDevicesTable
  device_assignments: DeviceAssignmentsTable
  device_previous_blobs: DevicePreviousBlobsTable
  device_downloads: DeviceDownloadsTable
  device_reports: DeviceReportsTable
  device_health: DeviceHealthTable
  audit_log: AuditLogTable
  deltas: DeltasTable
  delta_variants: DeltaVariantsTable
  multipart_uploads: MultipartUploadsTable
  multipart_upload_parts: MultipartUploadPartsTable
  release_policies: ReleasePoliciesTable
  device_certificates: DeviceCertificatesTable
  device_ca: DeviceCaTable
}

/**
 * The domain's public surface: what code outside `server/domain` (http, adapters,
 * workers, cli, container, metrics) uses, by concept. Anything not listed here is the
 * domain's own business; test/server/domain-deps.test.ts keeps vendors out of it.
 */

// errors and text every boundary checks
export { BlobDigestMismatch, BlobNotFound, DeltaBuildFailure, DependencyUnavailable, RedisUnreachable, SlipwayError, invalid } from './errors.js'
export type { CodeOf, ErrorKind } from './errors.js'
export { assertStorableText, findUnstorableText, unstorableTextError } from './storable-text.js'

// job names: what services enqueue and server/workers/ handles
export { JOBS } from './jobs.js'
export type { JobName } from './jobs.js'

// ports: what adapters implement
export { PermanentJobError, RESYNC } from './ports/infrastructure.js'
export type {
  BlobInfo,
  BlobStore,
  BuiltPatch,
  ByteRange,
  ChangeBus,
  ChangeHandler,
  FleetVersions,
  Job,
  JobHandler,
  JobOptions,
  JobQueue,
  JobState,
  JobStatus,
  OnlineSignOptions,
  OnlineSigner,
  PatchBuilder,
} from './ports/infrastructure.js'
export type { StagedUpload, UploadArea } from './ports/upload-area.js'
export type { CheckedCsr, DeviceCertificateAuthority, IssuedDeviceCertificate, KeyAttestationVerifier, NonceStore } from './ports/device-identity.js'
export type {
  DeltaChanges,
  DeltaListQuery,
  DeltaRepository,
  MultipartPart,
  MultipartUpload,
  MultipartUploadRepository,
  ReleaseListQuery,
  ReleaseRepository,
  Repositories,
  RootRepository,
  TokenRepository,
} from './ports/repositories.js'
export type {
  AssignmentRepository,
  AuditRepository,
  Breakdown,
  DeviceCaRepository,
  DeviceCertificateRepository,
  DeviceGroupRepository,
  DeviceInventoryRepository,
  DeviceListQuery,
  DeviceRepository,
  DownloadRepository,
  EnrollmentTokenRepository,
  FleetOverview,
  FleetRepositories,
  IntegrityFlag,
  IntegrityRepository,
  InventoryRepository,
  MemberRepository,
  ReportRepository,
  ReservationRepository,
  RolloutListQuery,
  RolloutRepository,
  StoredReport,
} from './ports/fleet-repositories.js'

// records
export { DELTA_STATES, ROLES, actorOf } from './model.js'
export type { ApiToken, DeltaRecord, DeltaState, DeltaVariant, DevicePrincipal, Principal, PrincipalRole, Release, ReleaseKind, Role, StoredRoot } from './model.js'
export { ROLLOUT_STATES } from './fleet-model.js'
export type {
  AuditEntry,
  BreachAction,
  Device,
  DeviceCertificate,
  DeviceGroup,
  DevicePollContext,
  DeviceSecurityEvent,
  DeviceWithInstalled,
  DownloadProgress,
  EnrollmentToken,
  InstallMode,
  InstalledRelease,
  MemberCounts,
  NewAuditEntry,
  Rollout,
  RolloutMember,
  RolloutState,
  StoredAssignment,
} from './fleet-model.js'

// auth: API tokens and principals
export { AuthService, DEVICE_CREDENTIAL_PREFIX } from './auth/auth-service.js'

// releases
export { ReleaseService } from './releases/release-service.js'
export { ReleasePolicyService } from './releases/release-policy-service.js'
export { PROVENANCE_FIELDS } from './releases/provenance-policy.js'
export type { ProvenanceField, ReleasePolicy, ReleasePolicyRepository } from './releases/provenance-policy.js'
export { SbomService } from './releases/sbom-service.js'
export { SignedReleaseVerifier } from './releases/signed-release-verifier.js'

// deltas
export { acceptedDeltaFormats, deltaOfferFormat } from './deltas/delta-formats.js'
export { DeltaService } from './deltas/delta-service.js'
export { InstalledFleetVersions } from './deltas/fleet-versions.js'

// trust: the root chain and device identity
export { TrustService } from './trust/trust-service.js'
export { DeviceAuthService } from './trust/device-auth-service.js'
export type { DeviceAuthOptions, DeviceRequest } from './trust/device-auth-service.js'
export { DeviceIdentityService } from './trust/device-identity-service.js'
export { TrustedProxies } from './trust/trusted-proxies.js'

// devices
export { DeviceService } from './devices/device-service.js'
export { DevicePollCache } from './devices/device-cache.js'
export { announcingDeviceChanges, deviceChangeListener, followDeviceChanges } from './devices/device-changes.js'
export { DownloadPolicy, isBudgetExceeded } from './devices/download-policy.js'
export type { GrantedBlob } from './devices/download-policy.js'
export { EnrollmentService } from './devices/enrollment-service.js'
export { IntegrityService } from './devices/integrity-service.js'
export { InventoryService } from './devices/inventory-service.js'
export { DeviceDirectory } from './devices/device-directory.js'
export type { InventoryFacts, InventoryPackage, InventorySelector, StoredInventory } from './devices/inventory.js'
export type { VersionTest } from './devices/deb-version.js'
export { QuarantineService } from './devices/quarantine-service.js'

// rollouts
export { RolloutService } from './rollouts/rollout-service.js'
export { cohortPosition, phaseOf } from './rollouts/cohort.js'
export { ACTIONS } from './rollouts/transitions.js'
export type { RolloutAction } from './rollouts/transitions.js'
export { AssignmentService } from './rollouts/assignment-service.js'
export type { OfferFormat } from './rollouts/offer-format.js'
export { ReportService } from './rollouts/report-service.js'
export { FleetCaches } from './rollouts/caches.js'
export { announceTransitions, followRolloutChanges } from './rollouts/rollout-changes.js'
export { failureSeries } from './rollouts/failure-series.js'

// the audit log and live pages, shared by devices and rollouts
export { GENESIS_HASH, entryHash, verifyChain } from './audit-chain.js'
export { LiveTopics, announceOn } from './live-changes.js'
export type { Topic } from './live-changes.js'

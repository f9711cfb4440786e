/** What `container.ts` builds from config and `buildApp` / workers consume. */
import type { TusUploadArea } from './adapters/uploads/tus-area.js'
import type { Config } from './config.js'
import type { Metrics } from './metrics/metrics.js'
import type { AuthService } from './domain/auth/auth-service.js'
import type { DeltaService } from './domain/deltas/delta-service.js'
import type { BlobStore, ChangeBus, JobQueue, OnlineSigner } from './domain/ports/infrastructure.js'
import type { ReleaseService } from './domain/releases/release-service.js'
import type { ReleasePolicyService } from './domain/releases/release-policy-service.js'
import type { SbomService } from './domain/releases/sbom-service.js'
import type { Repositories } from './domain/ports/repositories.js'
import type { TrustService } from './domain/trust/trust-service.js'
import type { AssignmentService } from './domain/rollouts/assignment-service.js'
import type { FleetCaches } from './domain/rollouts/caches.js'
import type { LiveTopics } from './domain/live-changes.js'
import type { DevicePollCache } from './domain/devices/device-cache.js'
import type { DeviceService } from './domain/devices/device-service.js'
import type { EnrollmentService } from './domain/devices/enrollment-service.js'
import type { ReportService } from './domain/rollouts/report-service.js'
import type { RolloutService } from './domain/rollouts/rollout-service.js'
import type { DownloadPolicy } from './domain/devices/download-policy.js'
import type { QuarantineService } from './domain/devices/quarantine-service.js'
import type { InventoryService } from './domain/devices/inventory-service.js'
import type { DeviceDirectory } from './domain/devices/device-directory.js'
import type { IntegrityService } from './domain/devices/integrity-service.js'
import type { RateLimitRedis } from './adapters/rate-limit/redis-store.js'
import type { DeviceAuthService } from './domain/trust/device-auth-service.js'
import type { DeviceIdentityService } from './domain/trust/device-identity-service.js'

export interface Services {
  config: Config
  repos: Repositories
  blobs: BlobStore
  /** staged tus uploads: a folder (file mode) or S3 multipart */
  uploads: TusUploadArea
  queue: JobQueue
  /** change notices between processes (rollout transitions → cache invalidation) */
  bus: ChangeBus
  auth: AuthService
  releases: ReleaseService
  /** provenance policy per release name (issue 12 §5) */
  releasePolicies: ReleasePolicyService
  /** SBOM documents, stored as blobs and linked by the signed sbomDigest */
  sboms: SbomService
  /** delta requests, builds (the build-delta job) and offers */
  deltas: DeltaService
  /** the published root chain; verifies release metadata */
  trust: TrustService
  /** signs assignments and deltas with the `online` key */
  onlineSigner: OnlineSigner
  /** device enrollment and enrollment tokens */
  enrollment: EnrollmentService
  /** the poll: a device's signed assignment */
  assignments: AssignmentService
  /** device events and health */
  reports: ReportService
  /** rollout definitions, operator actions, the gate */
  rollouts: RolloutService
  /** device management: labels, dynamic groups, last-seen, overview */
  devices: DeviceService
  /** what operators read about devices: list, show, explain, audit */
  directory: DeviceDirectory
  /** what the console's live pages listen to */
  live: LiveTopics
  caches: FleetCaches
  /** the poll path's per-process copy of devices, dropped on every device change */
  deviceCache: DevicePollCache
  /** quarantine, release, decommission */
  quarantine: QuarantineService
  /** device inventory reports and package searches (issue 12 §3) */
  inventory: InventoryService
  /** integrity findings: flag, audit, metric, optional quarantine (issue 12 §4) */
  integrity: IntegrityService
  /** which blobs a device may download, and its download budget */
  downloads: DownloadPolicy
  /** the shared store of the rate limits when scaled out (else each process counts alone) */
  rateLimitRedis?: RateLimitRedis
  /** this process's Prometheus registry (server /metrics, worker WORKER_PORT /metrics) */
  metrics: Metrics
  /** the one device-authentication decision (mTLS, forwarded certificate, message signature) */
  deviceAuth: DeviceAuthService
  /** device certificates: enrollment with a CSR, renewal, claims and approval, revocation, the CRL */
  identity: DeviceIdentityService
}

/** What `container.ts` builds from config and `buildApp` / workers consume. */
import type { TusUploadArea } from './adapters/uploads/tus-upload-area.js'
import type { Config } from './config.js'
import type { AuthService } from './domain/auth-service.js'
import type { DeltaService } from './domain/delta-service.js'
import type { BlobStore, JobQueue, OnlineSigner } from './domain/ports.js'
import type { ReleaseService } from './domain/release-service.js'
import type { Repositories } from './domain/repositories.js'
import type { TrustService } from './domain/trust-service.js'

export interface Services {
  config: Config
  repos: Repositories
  blobs: BlobStore
  uploads: TusUploadArea
  queue: JobQueue
  auth: AuthService
  releases: ReleaseService
  /** delta requests, builds (the build-delta job) and offers */
  deltas: DeltaService
  /** the published root chain; verifies release metadata */
  trust: TrustService
  /** signs assignments and deltas with the `online` key */
  onlineSigner: OnlineSigner
}

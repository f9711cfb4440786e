/** What `container.ts` builds from config and `buildApp` / workers consume. */
import type { TusUploadArea } from './adapters/uploads/tus-upload-area.js'
import type { Config } from './config.js'
import type { AuthService } from './domain/auth-service.js'
import type { BlobStore, JobQueue } from './domain/ports.js'
import type { ReleaseService } from './domain/release-service.js'
import type { Repositories } from './domain/repositories.js'

export interface Services {
  config: Config
  repos: Repositories
  blobs: BlobStore
  uploads: TusUploadArea
  queue: JobQueue
  auth: AuthService
  releases: ReleaseService
}

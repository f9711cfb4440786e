/**
 * config → adapters → services. The only place that knows which adapter serves
 * which port: SQLite or PostgreSQL, files or S3, in-process jobs or BullMQ.
 */
import { join } from 'node:path'
import { openRepositories } from './adapters/db/index.js'
import { FileBlobStore, S3BlobStore } from './adapters/blob/index.js'
import { BullMqQueue, InProcessQueue } from './adapters/queue/index.js'
import { TusUploadArea } from './adapters/uploads/tus-upload-area.js'
import type { Config } from './config.js'
import { AuthService } from './domain/auth-service.js'
import type { BlobStore, JobQueue } from './domain/ports.js'
import { ReleaseService } from './domain/release-service.js'
import type { ReleaseMetadataVerifier } from './domain/upload-area.js'
import type { Services } from './services.js'

export interface Container extends Services {
  close(): Promise<void>
}

function blobStore(config: Config): BlobStore {
  if (config.s3) return new S3BlobStore(config.s3)
  return new FileBlobStore({ root: join(config.dataDir, 'blobs') })
}

function jobQueue(config: Config, onError: (e: Error) => void): JobQueue {
  return config.redisUrl ? new BullMqQueue({ url: config.redisUrl, prefix: config.queuePrefix, onError }) : new InProcessQueue()
}

/** Until the trust layer lands, release metadata is stored but not required. */
const acceptUnsigned: ReleaseMetadataVerifier = { verify: async () => {} }

export async function createContainer(
  config: Config,
  opts: { migrate?: boolean; onQueueError?: (e: Error) => void } = {},
): Promise<Container> {
  const repos = await openRepositories({
    databaseUrl: config.databaseUrl,
    sqlitePath: join(config.dataDir, 'slipway.db'),
    migrate: opts.migrate ?? true,
  })
  const closers: Array<() => Promise<void>> = [() => repos.close()]
  try {
    const blobs = blobStore(config)
    await blobs.init()
    const queue = jobQueue(config, opts.onQueueError ?? (() => {}))
    closers.unshift(() => queue.close())
    const uploads = new TusUploadArea(config.uploadDir, config.uploadExpirySeconds * 1000)
    const auth = new AuthService(repos.tokens)
    const releases = new ReleaseService(repos.releases, blobs, uploads, acceptUnsigned)
    return {
      config,
      repos,
      blobs,
      uploads,
      queue,
      auth,
      releases,
      async close() {
        for (const c of closers) await c()
      },
    }
  } catch (e) {
    for (const c of closers) await c().catch(() => {})
    throw e
  }
}

/**
 * config → adapters → services. The only place that knows which adapter serves
 * which port: SQLite or PostgreSQL, files or S3, in-process jobs or BullMQ.
 */
import { join } from 'node:path'
import { openRepositories } from './adapters/db/index.js'
import { FileBlobStore, S3BlobStore } from './adapters/blob/index.js'
import { BlobPatchBuilder } from './adapters/delta/blob-patch-builder.js'
import { BullMqQueue, InProcessQueue } from './adapters/queue/index.js'
import { ensureDevRoot, type DevRoot } from './adapters/signer/dev-root.js'
import { openOnlineSigner } from './adapters/signer/online-signer.js'
import { RedisLocker } from './adapters/uploads/redis-locker.js'
import { S3UploadArea } from './adapters/uploads/s3-upload-area.js'
import type { TusUploadArea as UploadArea } from './adapters/uploads/tus-area.js'
import { TusUploadArea } from './adapters/uploads/tus-upload-area.js'
import type { Config } from './config.js'
import { AuthService } from './domain/auth/auth-service.js'
import { DeltaService } from './domain/deltas/delta-service.js'
import { InstalledFleetVersions } from './domain/deltas/fleet-versions.js'
import type { BlobStore, FleetVersions, JobQueue } from './domain/ports/infrastructure.js'
import { ReleaseService } from './domain/releases/release-service.js'
import { SignedReleaseVerifier } from './domain/releases/signed-release-verifier.js'
import { ReleasePolicyService } from './domain/releases/release-policy-service.js'
import { SbomService } from './domain/releases/sbom-service.js'
import { TrustService } from './domain/trust/trust-service.js'
import type { Services } from './services.js'
import { RedisUnreachable } from './domain/errors.js'
import type { Repositories } from './domain/ports/repositories.js'
import { AssignmentService } from './domain/rollouts/assignment-service.js'
import { FleetCaches } from './domain/rollouts/caches.js'
import { announceOn, LiveTopics } from './domain/live-changes.js'
import { DeviceService } from './domain/devices/device-service.js'
import { EnrollmentService } from './domain/devices/enrollment-service.js'
import { ReportService } from './domain/rollouts/report-service.js'
import { RolloutService } from './domain/rollouts/rollout-service.js'
import { DownloadPolicy } from './domain/devices/download-policy.js'
import { QuarantineService } from './domain/devices/quarantine-service.js'
import { InventoryService } from './domain/devices/inventory-service.js'
import { DeviceDirectory } from './domain/devices/device-directory.js'
import { IntegrityService } from './domain/devices/integrity-service.js'
import { openRateLimitRedis } from './adapters/rate-limit/redis-store.js'
import { announceTransitions, followRolloutChanges } from './domain/rollouts/rollout-changes.js'
import { DevicePollCache } from './domain/devices/device-cache.js'
import { announcingDeviceChanges, deviceChangeListener, followDeviceChanges } from './domain/devices/device-changes.js'
import { InProcessChangeBus, RedisChangeBus } from './adapters/bus/index.js'
import type { ChangeBus } from './domain/ports/infrastructure.js'
import { createMetrics } from './metrics/metrics.js'
import { offerFormat } from './http/device/poll-offer.js'
import { loadTpmAttestationVerifier } from './adapters/attestation/tpm-attestation.js'
import { noDeviceCaInWorker, SigningDeviceCa } from './adapters/identity/device-ca.js'
import { InProcessNonceStore, RedisNonceStore } from './adapters/identity/nonce-store.js'
import { DeviceAuthService } from './domain/trust/device-auth-service.js'
import { DeviceIdentityService } from './domain/trust/device-identity-service.js'
import type { KeyAttestationVerifier, NonceStore } from './domain/ports/device-identity.js'
import { TrustedProxies } from './domain/trust/trusted-proxies.js'

export interface Container extends Services {
  /** set when this start created the development root (first start with file keys) */
  devRoot?: DevRoot
  close(): Promise<void>
}

function blobStore(config: Config): BlobStore {
  if (config.s3) return new S3BlobStore(config.s3)
  return new FileBlobStore({ root: join(config.dataDir, 'blobs') })
}

/** S3 mode: uploads go straight to S3 multipart, locks through Redis; file mode: the upload folder. */
function uploadArea(config: Config, blobs: BlobStore, repos: Repositories): UploadArea {
  const expiryMs = config.uploadExpirySeconds * 1000
  if (blobs instanceof S3BlobStore) {
    const locker = config.redisUrl ? new RedisLocker(config.redisUrl, config.queuePrefix) : undefined
    return new S3UploadArea(blobs, repos.multipartUploads, { expiryMs, maxUploadBytes: config.maxUploadBytes }, locker)
  }
  return new TusUploadArea(config.uploadDir, expiryMs, blobs)
}


function changeBus(config: Config, onError: (e: Error) => void): ChangeBus {
  return config.redisUrl ? new RedisChangeBus({ url: config.redisUrl, prefix: config.queuePrefix, onError }) : new InProcessChangeBus()
}

function jobQueue(config: Config, onError: (e: Error) => void): JobQueue {
  return config.redisUrl ? new BullMqQueue({ url: config.redisUrl, prefix: config.queuePrefix, onError }) : new InProcessQueue()
}

export async function createContainer(
  config: Config,
  opts: {
    migrate?: boolean
    onQueueError?: (e: Error) => void
    /** what the fleet runs (tests inject one; default: the stub until devices exist) */
    fleet?: FleetVersions
    /** checks TPM key attestations at enrollment; without one an enrollment carrying an attestation is refused */
    attestation?: KeyAttestationVerifier
    /** open the device CA (default true); false in `slipway worker`, which serves no device route */
    deviceCa?: boolean
  } = {},
): Promise<Container> {
  const repos = await openRepositories({
    databaseUrl: config.databaseUrl,
    sqlitePath: join(config.dataDir, 'slipway.db'),
    migrate: opts.migrate ?? true,
  })
  const closers: Array<() => Promise<void>> = [() => repos.close()]
  try {
    const bus = changeBus(config, opts.onQueueError ?? (() => {}))
    closers.unshift(() => bus.close())
    // the poll reads devices through a per-process cache; every device write, by any
    // service in any process, drops the device's entry everywhere (device-changes.ts)
    const deviceCache = new DevicePollCache({ findByCredentialHash: (h) => repos.fleet.devices.findByCredentialHash(h), findWithDevice: (s) => repos.fleet.certificates.findWithDevice(s) }, { ttlMs: config.deviceCacheSeconds * 1000, maxEntries: config.deviceCacheEntries })
    repos.fleet = announcingDeviceChanges(repos.fleet, deviceChangeListener(bus, deviceCache))
    const blobs = blobStore(config)
    await blobs.init()
    const queue = jobQueue(config, opts.onQueueError ?? (() => {}))
    closers.unshift(() => queue.close())
    // BullMQ would reconnect forever and the process would look healthy: say it at start instead
    if (config.redisUrl) await queue.ping().catch((e: unknown) => { throw new RedisUnreachable(config.redisUrl as string, e) })
    // after the ping: a dead Redis is named as such, not as a bus that failed to subscribe
    await followDeviceChanges(bus, deviceCache)
    const uploads = uploadArea(config, blobs, repos)
    closers.unshift(() => uploads.close())
    const auth = new AuthService(repos.tokens)
    const trust = new TrustService(repos.roots)
    // file keys (embedded default): the first start creates a dev root; a PKCS#11
    // key is opened first so that module / PIN / key mistakes are the error shown
    const devRoot = config.keys.online.kind === 'file' ? await ensureDevRoot(config.keys, config.keys.online.path, trust) : undefined
    const onlineSigner = await openOnlineSigner(config.keys.online)
    closers.unshift(() => onlineSigner.close())
    await trust.checkOnlineKey(onlineSigner.keyId) // TRUST_ROOT_MISSING until a root is installed
    const releasePolicies = new ReleasePolicyService(repos.fleet)
    const deltas = new DeltaService(
      repos.deltas,
      repos.releases,
      queue,
      blobs,
      new BlobPatchBuilder(blobs, { memoryBudget: config.delta.memoryBudget, workDir: config.delta.workDir, formatVersion: config.delta.formatVersion }),
      onlineSigner,
      opts.fleet ?? new InstalledFleetVersions(repos.fleet.devices, repos.releases),
      { offerRatio: config.delta.offerRatio, topSources: config.delta.topSources },
    )
    const releases = new ReleaseService(repos.releases, uploads, new SignedReleaseVerifier(trust), releasePolicies, deltas)
    const caches = new FleetCaches(repos.releases, repos.fleet.rollouts, config.rolloutCacheMs)
    await followRolloutChanges(bus, caches)
    // live pages (SSE) hear every change through the bus, whichever process made it
    const live = new LiveTopics(bus)
    await live.start()
    closers.unshift(() => live.close())
    const announce = announceOn(bus)
    const rollouts = new RolloutService(repos.fleet, repos.releases, caches, announceTransitions(bus, announce))
    const assignments = new AssignmentService(repos.fleet, caches, onlineSigner, deltas, config.pollIntervalSeconds, offerFormat, announce)
    const quarantine = new QuarantineService(repos.fleet, announce)
    const b = config.boundary
    const downloads = new DownloadPolicy(repos.fleet, { factor: b.downloadBudgetFactor, windowSeconds: b.downloadBudgetWindowSeconds, quarantine: b.downloadBudgetQuarantine }, quarantine, offerFormat)
    const rateLimitRedis = config.redisUrl ? openRateLimitRedis(config.redisUrl) : undefined
    if (rateLimitRedis) closers.unshift(async () => void (await rateLimitRedis.quit().catch(() => rateLimitRedis.disconnect())))
    // only the HTTP server issues and checks device certificates: a worker opening the CA
    // key would need the server's keys folder (SIGNER_KEY_MISMATCH with its own)
    const deviceCa = (opts.deviceCa ?? true) ? await SigningDeviceCa.open(config.keys.deviceCa, repos.fleet.deviceCa) : undefined
    if (deviceCa) closers.unshift(() => deviceCa.close())
    const ca = deviceCa ?? noDeviceCaInWorker
    // a signature's nonce must be refused by every replica: Redis when scaled out
    const nonces: NonceStore = config.redisUrl ? new RedisNonceStore(config.redisUrl, config.queuePrefix) : new InProcessNonceStore()
    closers.unshift(async () => nonces.close?.())
    const deviceAuth = new DeviceAuthService({
      // both lookups through the poll cache: a poll that changes nothing reads no database
      certificates: deviceCache,
      devices: deviceCache,
      ca,
      nonces,
      proxies: new TrustedProxies(config.identity.trustedProxies),
      bearerCompat: config.identity.bearerCompat,
      apiTokens: auth,
    })
    // SLIPWAY_TPM_EK_CA_FILE: key attestations at enrollment are checked against the operator's EK CA
    const attestation = opts.attestation ?? (deviceCa && config.tpmAttestation ? await loadTpmAttestationVerifier(config.tpmAttestation) : undefined)
    const identity = new DeviceIdentityService(repos.fleet, ca, {
      certLifetimeSeconds: config.identity.certLifetimeSeconds,
      ...(attestation ? { attestation } : {}),
      announce,
    })
    const reports = new ReportService(repos.fleet, caches, repos.releases, queue, announce)
    const metrics = createMetrics({ queue, deltas, deltaRepo: repos.deltas, rollouts })
    const integrity = new IntegrityService(repos.fleet, (n, v) => repos.releases.findByNameVersion(n, v), quarantine, {
      quarantine: config.inventory.integrityQuarantine,
      onFinding: (state, known) => metrics.integrityFindings.inc({ state, release_known: String(known) }),
    })
    const inventory = new InventoryService(repos.fleet)
    return {
      config,
      metrics,
      caches,
      deviceCache,
      rollouts,
      assignments,
      reports,
      enrollment: new EnrollmentService(repos.fleet, announce),
      quarantine,
      inventory,
      directory: new DeviceDirectory(repos.fleet, caches, assignments, inventory, integrity, config.pollIntervalSeconds),
      integrity,
      downloads,
      ...(rateLimitRedis ? { rateLimitRedis } : {}),
      devices: new DeviceService(repos.fleet, announce),
      live,
      deviceAuth,
      identity,
      repos,
      blobs,
      uploads,
      queue,
      bus,
      auth,
      releases,
      releasePolicies,
      sboms: new SbomService(repos.releases, blobs),
      deltas,
      trust,
      onlineSigner,
      ...(devRoot ? { devRoot } : {}),
      async close() {
        for (const c of closers) await c()
      },
    }
  } catch (e) {
    for (const c of closers) await c().catch(() => {})
    throw e
  }
}

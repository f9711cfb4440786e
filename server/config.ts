/**
 * One typed configuration object, read from the environment (and an optional JSON
 * file named by SLIPWAY_CONFIG holding the same variable names), validated once at
 * start. A bad value stops the start with a message naming the variable.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { identityConfig, tpmAttestation, type DeviceIdentityConfig, type TpmAttestationConfig } from './config-identity.js'
import { bool, ConfigError, fraction, integer, url, type Source } from './config-values.js'

export { ConfigError }
export type { DeviceIdentityConfig, TpmAttestationConfig }

export interface S3Config {
  /** URL of the S3 / MinIO endpoint the servers and workers use, e.g. http://minio:9000 */
  endPoint: string
  /**
   * URL devices reach the same S3 at, for presigned download URLs (a presigned URL's
   * signature covers its host, so it must be signed for the public name); default endPoint.
   */
  publicEndPoint?: string
  bucket: string
  accessKey: string
  secretKey: string
  region: string
  /** Stream downloads through the server instead of redirecting to a presigned URL. */
  proxyDownloads: boolean
  /** Lifetime of presigned download URLs, seconds. */
  presignSeconds: number
}

/**
 * Where the `online` key (it signs device assignments and delta metadata) lives.
 * `file`: the embedded development default, generated on first start; start-up
 * warns loudly. `pkcs11`: a key in an HSM, YubiHSM, TPM or cloud KMS token.
 */
export type OnlineKeyConfig =
  | { kind: 'file'; path: string }
  | {
      kind: 'pkcs11'
      /** PKCS#11 module (.so) path */
      modulePath: string
      tokenLabel: string
      /** the PIN itself (PKCS11_PIN) or a file holding it (PKCS11_PIN_FILE); never logged */
      pin: { value: string } | { file: string }
      keyLabel: string
    }

export interface KeysConfig {
  /** Development key folder: the dev root, CI release and online file keys (mode 0600). */
  dir: string
  online: OnlineKeyConfig
  /** the device CA's key: a file (default `<keys>/device-ca.pem`, generated) or a PKCS#11 key (PKCS11_DEVICE_CA_KEY_LABEL) */
  deviceCa: DeviceCaKeyConfig
}

/** Same shape as the online key's: a file key, or a key in the PKCS#11 token of PKCS11_MODULE. */
export type DeviceCaKeyConfig = OnlineKeyConfig

/** Delta builds (DESIGN.md "Payloads and deltas"). */
export interface DeltaConfig {
  /** memory one build may use, bytes (default 1 GiB); windows and parallelism shrink to fit */
  memoryBudget: number
  /** offer a delta only when patch length < offerRatio × the compressed full image (default 0.7) */
  offerRatio: number
  /** on publish, build deltas from the N most installed versions of the same name and hardware (default 3; 0 = only on demand) */
  topSources: number
  /** scratch folder of builds: temp copies of S3 images, bsdiff windows, patches before they are stored */
  workDir: string
  /**
   * delta format version built (default 3: sparse diffs, weights by column, diffs inside compressed
   * members; offered only to devices that report it, every other device gets the version-1 twin;
   * 1 builds only version-1 patches)
   */
  formatVersion: 1 | 2 | 3
}

/** The device boundary (issue 10 §3, §5). */
export interface BoundaryConfig {
  /** a device may download each blob this many times its length per window (default 3) */
  downloadBudgetFactor: number
  /** the download budget's sliding window, seconds (default 24 h) */
  downloadBudgetWindowSeconds: number
  /** quarantine a device the first time it exceeds a download budget (default false) */
  downloadBudgetQuarantine: boolean
  /** lifetime of a presigned URL issued to a device for one assignment's blob, seconds (default 60) */
  devicePresignSeconds: number
  /** failed authentications one source address may make per minute before 429 (default 100; 0 = no limit) */
  authFailuresPerMinute: number
  /** enrollments one enrollment token may make per minute before 429 (default 1000; 0 = no limit) */
  enrollmentsPerTokenPerMinute: number
}

/** Fleet inventory and integrity checks (issue 12 §3-4). */
export interface InventoryConfig {
  /** largest inventory report accepted, bytes (default 1 MiB): 413 BODY_TOO_LARGE past it */
  maxBytes: number
  /** quarantine a device when it reports integrity drift (default false: flag, metric and audit only) */
  integrityQuarantine: boolean
}

export interface Config {
  port: number
  host: string
  /** `slipway worker`'s /metrics and /healthz port (WORKER_PORT, default 9090) */
  workerPort: number
  /** Embedded-mode home: SQLite database, blobs, staged uploads, dev keys. */
  dataDir: string
  /** Where unfinished uploads are staged in file mode (with S3 they go straight to S3 multipart). */
  uploadDir: string
  /** Bootstrap admin token; generated and printed once when unset. */
  adminToken?: string
  /** PostgreSQL URL; SQLite in dataDir when unset. */
  databaseUrl?: string
  /** Redis URL for BullMQ; in-process jobs when unset. */
  redisUrl?: string
  /** Namespace of this deployment's keys in Redis, so deployments can share one Redis. */
  queuePrefix: string
  /** S3 blob store; files in dataDir when unset. */
  s3?: S3Config
  /**
   * File mode behind nginx: blob downloads are answered with `X-Accel-Redirect: <prefix><path
   * under the blob folder>` after the server checked authorization, and nginx sends the file
   * (sendfile). The prefix is an `internal` nginx location aliased to `<data>/blobs/`.
   */
  accelRedirectPrefix?: string
  /** Largest artifact accepted, bytes (default 16 GiB). */
  maxUploadBytes: number
  /** An unfinished upload is reclaimed after this many seconds without progress (default 24 h). */
  uploadExpirySeconds: number
  /** pino level */
  logLevel: string
  /** Grace for in-flight requests on SIGTERM, seconds. */
  shutdownGraceSeconds: number
  /** how often devices are told to poll when there is nothing to do */
  pollIntervalSeconds: number
  /** period of the rollout tick (soak times, silent devices) */
  rolloutTickSeconds: number
  /** longest a replica serves a rollout decision it missed a change notice for, in milliseconds (change bus fallback) */
  rolloutCacheMs: number
  /** longest a replica serves a cached device (poll path) it missed a change notice for, in seconds (0: no device cache) */
  deviceCacheSeconds: number
  /** devices cached per process for the poll path */
  deviceCacheEntries: number
  keys: KeysConfig
  delta: DeltaConfig
  tpmAttestation?: TpmAttestationConfig
  boundary: BoundaryConfig
  inventory: InventoryConfig
  identity: DeviceIdentityConfig
}

export function fileSource(env: Source): Source {
  const path = env.SLIPWAY_CONFIG
  if (!path) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new ConfigError('SLIPWAY_CONFIG', `cannot read ${path}: ${(e as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError('SLIPWAY_CONFIG', `${path} must hold a JSON object of variable names`)
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? undefined : String(v)]))
}

function s3(src: Source): S3Config | undefined {
  const endPoint = url(src, 'S3_ENDPOINT', ['http:', 'https:'])
  if (!endPoint) {
    if (src.S3_PUBLIC_ENDPOINT) throw new ConfigError('S3_PUBLIC_ENDPOINT', 'needs S3_ENDPOINT')
    return undefined
  }
  const need = (name: string): string => {
    const v = src[name]
    if (!v) throw new ConfigError(name, 'is required when S3_ENDPOINT is set')
    return v
  }
  const bucket = need('S3_BUCKET')
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError('S3_BUCKET', 'is not a valid bucket name')
  const publicEndPoint = url(src, 'S3_PUBLIC_ENDPOINT', ['http:', 'https:'])
  return {
    endPoint,
    ...(publicEndPoint ? { publicEndPoint } : {}),
    bucket,
    accessKey: need('S3_ACCESS_KEY'),
    secretKey: need('S3_SECRET_KEY'),
    region: src.S3_REGION || 'us-east-1',
    proxyDownloads: bool(src, 'S3_PROXY_DOWNLOADS', false),
    presignSeconds: integer(src, 'S3_PRESIGN_SECONDS', 300, 10, 7 * 24 * 3600),
  }
}

function prefix(src: Source, name: string, dflt: string): string {
  const raw = src[name] || dflt
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new ConfigError(name, 'must be 1-64 of A-Z a-z 0-9 _ -')
  return raw
}

const PKCS11_VARS = ['PKCS11_TOKEN_LABEL', 'PKCS11_PIN', 'PKCS11_PIN_FILE', 'PKCS11_ONLINE_KEY_LABEL', 'PKCS11_DEVICE_CA_KEY_LABEL']

function deviceCaKey(src: Source, dir: string, online: OnlineKeyConfig): DeviceCaKeyConfig {
  const label = src.PKCS11_DEVICE_CA_KEY_LABEL
  if (!label) return { kind: 'file', path: resolve(src.SLIPWAY_DEVICE_CA_KEY_FILE || `${dir}/device-ca.pem`) }
  if (src.SLIPWAY_DEVICE_CA_KEY_FILE) throw new ConfigError('SLIPWAY_DEVICE_CA_KEY_FILE', 'cannot be set together with PKCS11_DEVICE_CA_KEY_LABEL')
  if (online.kind !== 'pkcs11') throw new ConfigError('PKCS11_MODULE', 'is required when PKCS11_DEVICE_CA_KEY_LABEL is set')
  return { ...online, keyLabel: label }
}

function keys(src: Source, dataDir: string): KeysConfig {
  const dir = resolve(src.SLIPWAY_KEYS_DIR || `${dataDir}/keys`)
  const base = keysWithoutCa(src, dir)
  return { ...base, deviceCa: deviceCaKey(src, dir, base.online) }
}

function keysWithoutCa(src: Source, dir: string): Omit<KeysConfig, 'deviceCa'> {
  const modulePath = src.PKCS11_MODULE
  if (!modulePath) {
    const stray = PKCS11_VARS.find((v) => src[v])
    if (stray) throw new ConfigError('PKCS11_MODULE', `is required when ${stray} is set`)
    return { dir, online: { kind: 'file', path: resolve(src.SLIPWAY_ONLINE_KEY_FILE || `${dir}/online.pem`) } }
  }
  if (src.SLIPWAY_ONLINE_KEY_FILE) throw new ConfigError('SLIPWAY_ONLINE_KEY_FILE', 'cannot be set together with PKCS11_MODULE: the online key is either a file or a token key')
  const need = (name: string): string => {
    const v = src[name]
    if (!v) throw new ConfigError(name, 'is required when PKCS11_MODULE is set')
    return v
  }
  const tokenLabel = need('PKCS11_TOKEN_LABEL')
  const keyLabel = need('PKCS11_ONLINE_KEY_LABEL')
  if (src.PKCS11_PIN && src.PKCS11_PIN_FILE) throw new ConfigError('PKCS11_PIN_FILE', 'set either PKCS11_PIN or PKCS11_PIN_FILE, not both')
  if (!src.PKCS11_PIN && !src.PKCS11_PIN_FILE) throw new ConfigError('PKCS11_PIN', 'is required when PKCS11_MODULE is set (or PKCS11_PIN_FILE)')
  const pin = src.PKCS11_PIN ? { value: src.PKCS11_PIN } : { file: resolve(src.PKCS11_PIN_FILE as string) }
  return { dir, online: { kind: 'pkcs11', modulePath, tokenLabel, pin, keyLabel } }
}

function accelRedirect(src: Source): { accelRedirectPrefix?: string } {
  const raw = src.SLIPWAY_ACCEL_REDIRECT_PREFIX
  if (!raw) return {}
  if (!/^\/[A-Za-z0-9_.\/-]*\/$/.test(raw) || raw.includes('..'))
    throw new ConfigError('SLIPWAY_ACCEL_REDIRECT_PREFIX', 'must be a URL path that starts and ends with /, e.g. /_slipway_blobs/')
  if (src.S3_ENDPOINT) throw new ConfigError('SLIPWAY_ACCEL_REDIRECT_PREFIX', 'is for file mode: with S3_ENDPOINT downloads redirect to presigned URLs')
  return { accelRedirectPrefix: raw }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/**
 * `read`, when given, collects every variable name the configuration looked at, so that
 * start-up can name the SLIPWAY_* variables nothing reads (config-unknown.ts).
 */
export function loadConfig(env: Source = process.env, read?: Set<string>): Config {
  const merged: Source = { ...fileSource(env), ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')) }
  const src: Source = read
    ? new Proxy(merged, { get: (target, name) => (typeof name === 'string' && read.add(name), Reflect.get(target, name)) })
    : merged
  const host = src.HOST || '127.0.0.1'
  const adminToken = src.SLIPWAY_ADMIN_TOKEN
  if (adminToken !== undefined && adminToken.length < 32)
    throw new ConfigError('SLIPWAY_ADMIN_TOKEN', 'must be at least 32 characters (128 bits of randomness or more)')
  const dataDir = resolve(src.SLIPWAY_DATA_DIR || './data')
  const logLevel = src.LOG_LEVEL || 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)
  const keysConfig = keys(src, dataDir)
  return {
    port: integer(src, 'PORT', 8080, 0, 65535),
    workerPort: integer(src, 'WORKER_PORT', 9090, 0, 65535),
    host,
    dataDir,
    uploadDir: resolve(src.SLIPWAY_UPLOAD_DIR || `${dataDir}/uploads`),
    adminToken,
    databaseUrl: url(src, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url(src, 'REDIS_URL', ['redis:', 'rediss:']),
    queuePrefix: prefix(src, 'SLIPWAY_QUEUE_PREFIX', 'slipway'),
    s3: s3(src),
    ...accelRedirect(src),
    maxUploadBytes: integer(src, 'SLIPWAY_MAX_UPLOAD_BYTES', 16 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    uploadExpirySeconds: integer(src, 'SLIPWAY_UPLOAD_EXPIRY_SECONDS', 24 * 3600, 60, 365 * 24 * 3600),
    logLevel,
    shutdownGraceSeconds: integer(src, 'SLIPWAY_SHUTDOWN_GRACE_SECONDS', 25, 0, 3600),
    pollIntervalSeconds: integer(src, 'SLIPWAY_POLL_INTERVAL_SECONDS', 300, 1, 7 * 24 * 3600),
    rolloutTickSeconds: integer(src, 'SLIPWAY_ROLLOUT_TICK_SECONDS', 5, 1, 3600),
    rolloutCacheMs: integer(src, 'SLIPWAY_ROLLOUT_CACHE_MS', 1000, 0, 10 * 60 * 1000),
    deviceCacheSeconds: integer(src, 'SLIPWAY_DEVICE_CACHE_SECONDS', 900, 0, 24 * 3600),
    deviceCacheEntries: integer(src, 'SLIPWAY_DEVICE_CACHE_ENTRIES', 250_000, 1, 100_000_000),
    keys: keysConfig,
    delta: {
      memoryBudget: integer(src, 'SLIPWAY_DELTA_MEMORY_BUDGET', 2 ** 30, 128 * 2 ** 20, Number.MAX_SAFE_INTEGER),
      offerRatio: fraction(src, 'SLIPWAY_DELTA_OFFER_RATIO', 0.7),
      topSources: integer(src, 'SLIPWAY_DELTA_TOP_SOURCES', 3, 0, 100),
      workDir: resolve(src.SLIPWAY_DELTA_WORK_DIR || `${dataDir}/delta-work`),
      formatVersion: integer(src, 'SLIPWAY_DELTA_FORMAT_VERSION', 3, 1, 3) as 1 | 2 | 3,
    },
    tpmAttestation: tpmAttestation(src, keysConfig.dir),
    boundary: {
      downloadBudgetFactor: integer(src, 'SLIPWAY_DOWNLOAD_BUDGET_FACTOR', 3, 1, 1000),
      downloadBudgetWindowSeconds: integer(src, 'SLIPWAY_DOWNLOAD_BUDGET_WINDOW_SECONDS', 24 * 3600, 60, 30 * 24 * 3600),
      downloadBudgetQuarantine: bool(src, 'SLIPWAY_DOWNLOAD_BUDGET_QUARANTINE', false),
      devicePresignSeconds: integer(src, 'SLIPWAY_DEVICE_PRESIGN_SECONDS', 60, 10, 3600),
      authFailuresPerMinute: integer(src, 'SLIPWAY_AUTH_FAILURES_PER_MINUTE', 100, 0, 1_000_000),
      enrollmentsPerTokenPerMinute: integer(src, 'SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE', 1000, 0, 1_000_000),
    },
    inventory: {
      maxBytes: integer(src, 'SLIPWAY_INVENTORY_MAX_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      integrityQuarantine: bool(src, 'SLIPWAY_INTEGRITY_QUARANTINE', false),
    },
    identity: identityConfig(src),
  }
}

/**
 * The agent's one config object (a JSON file), validated once at start: a bad
 * value stops the start with CONFIG_INVALID naming the field. Units are in the
 * names. Relative paths are resolved against the config file's folder.
 */
import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import type { HealthConfig } from '../health/checks.js'
import type { TlsConfig } from '../identity/tls.js'
import type { TpmConfig } from '../identity/tpm-tools.js'
import type { Installed } from '../journal/journal.js'
import type { SlotAdapterConfig } from '../slots/index.js'
import { AgentError } from '../errors.js'

export interface ModelsConfig {
  /** folder of model stores: <dir>/<release name>/{a,b,current,previous} (see models/store.ts) */
  dir: string
  /** file name of the model inside a slot (default model.gguf); the app opens <dir>/<name>/current/<fileName> */
  fileName?: string
  /** smoke inference after a swap, run with SLIPWAY_MODEL_PATH set to the new live model */
  smoke?: {
    argv: string[]
    /** slowest acceptable run, ms */
    latencyBudgetMs?: number
    /** seconds (default 300) */
    timeoutSeconds?: number
  }
}

export interface AgentConfig {
  /** server base URL, e.g. https://ota.example */
  server: string
  /** folder for the journal, report queue, credential, root cache and staged patches */
  dataDir: string
  /** identity file: device id, certificate (default <dataDir>/credential.json), mode 0600 */
  credentialFile?: string
  /** the device's private key, PKCS#8 PEM, mode 0600 (default <dataDir>/device-key.pem), created at the first enrollment */
  keyFile?: string
  /** type of a new file key (default ed25519) */
  keyType?: 'ecdsa' | 'ed25519'
  /** root.json pinned at provisioning (TUF root v1 or later) */
  trustedRootFile: string
  /** hardware model, e.g. `rpi4`; must be in a release's `hardware` list */
  hardware: string
  /** stable unique id of this unit (serial number) for enrollment */
  hardwareId: string
  tags?: string[]
  /** the OS image provisioned in the active slot (used until the first committed update) */
  installed?: Installed
  /** bootloader adapter */
  slots: SlotAdapterConfig
  models?: ModelsConfig
  /** seconds between polls when the server does not say (default 300) */
  pollIntervalSeconds?: number
  /** ± fraction of the interval added at random (default 0.1) */
  pollJitter?: number
  /** first delay after an error, seconds (default 5); doubles up to `backoffMaxSeconds` (default 3600) */
  backoffInitialSeconds?: number
  backoffMaxSeconds?: number
  download?: {
    /** cap, bytes per second (default none) */
    bandwidthBytesPerSecond?: number
    /** hosts a download may be redirected to besides the server, without the credential (S3/MinIO presigned URLs) */
    allowedRedirectHosts?: string[]
    /** bytes between durable checkpoints: slot fsync + journal write (default 64 MiB) */
    checkpointBytes?: number
    /** retries after a network error within one download (default 4) */
    retries?: number
    /** first retry delay, ms (default 1000) */
    retryDelayMs?: number
    /** agent ticks an update may end in a transient error before it is reported failed (default 10) */
    maxAttempts?: number
    /** use an offered delta (default true); false always downloads the full image */
    deltas?: boolean
    /** one download call ends with NETWORK_ERROR (progress kept, back-off, resumed next tick) after this long, seconds (default 14400) */
    deadlineSeconds?: number
    /** a response slower than this over `lowSpeedWindowSeconds` is cut with NETWORK_ERROR, bytes/s (default 64) */
    minBytesPerSecond?: number
    /** window of the minimum-throughput rule, seconds (default 60) */
    lowSpeedWindowSeconds?: number
  }
  /** deadline of each device API call (poll, reports, root), seconds (default 60): a dripping answer ends in NETWORK_ERROR */
  requestDeadlineSeconds?: number
  /** seconds past `expires` metadata is still accepted (default 0) */
  expiryGraceSeconds?: number
  /** reboot argv (default: what the slot adapter says, e.g. `systemctl reboot`) */
  rebootCommand?: string[]
  health?: HealthConfig
  /** seconds between heartbeat health reports of the committed release (default 0: none) */
  heartbeatSeconds?: number
  tls?: TlsConfig
  /** device key inside a TPM 2.0 through tpm2-tools (README "TPM-resident device keys"); absent: a file key */
  tpm?: TpmConfig
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  /** the inventory report (issue 12 §3); every field has a default for a real device */
  inventory?: {
    /** false: never report (default true) */
    enabled?: boolean
    /** default /etc/os-release */
    osReleasePath?: string
    /** argv printing `name\tversion` lines (default dpkg-query -W); false: no package list */
    packagesCommand?: string[] | false
    /** TPM device node whose presence means a TPM (default /dev/tpmrm0); `tpm` config also counts */
    tpmDevice?: string
    /** override what is reported (tests, devices whose kernel string is not uname -r) */
    kernel?: string
    tpm?: boolean
  }
  /** seconds between integrity checks of the active slot and live models (default 86400; 0: never) */
  integrityIntervalSeconds?: number
  /** a check that has not finished after this many seconds reports integrity-timeout (default 3600) */
  integrityBudgetSeconds?: number
}

const bad = (field: string, want: string) => new AgentError('CONFIG_INVALID', `config: ${field} must be ${want}`, { field })

function str(o: Record<string, unknown>, k: string, optional = false): void {
  if (o[k] === undefined && optional) return
  if (typeof o[k] !== 'string' || !(o[k] as string)) throw bad(k, 'a non-empty string')
}

function num(o: Record<string, unknown>, k: string, min = 0): void {
  if (o[k] === undefined) return
  if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < min) throw bad(k, `a number ≥ ${min}`)
}

export function validateConfig(raw: unknown, baseDir = process.cwd()): AgentConfig {
  if (typeof raw !== 'object' || raw === null) throw bad('(root)', 'an object')
  const o = raw as Record<string, unknown>
  for (const k of ['server', 'dataDir', 'trustedRootFile', 'hardware', 'hardwareId']) str(o, k)
  str(o, 'credentialFile', true)
  str(o, 'keyFile', true)
  if (o.keyType !== undefined && o.keyType !== 'ecdsa' && o.keyType !== 'ed25519') throw bad('keyType', '"ecdsa" or "ed25519"')
  try {
    new URL(o.server as string)
  } catch {
    throw bad('server', 'an absolute URL')
  }
  for (const k of ['pollIntervalSeconds', 'backoffInitialSeconds', 'backoffMaxSeconds', 'expiryGraceSeconds', 'heartbeatSeconds', 'requestDeadlineSeconds', 'integrityIntervalSeconds', 'integrityBudgetSeconds']) num(o, k)
  if (o.inventory !== undefined) {
    const inv = o.inventory as Record<string, unknown>
    if (typeof inv !== 'object' || inv === null) throw bad('inventory', 'an object')
    for (const k of ['osReleasePath', 'tpmDevice', 'kernel']) if (inv[k] !== undefined && (typeof inv[k] !== 'string' || !inv[k])) throw bad(`inventory.${k}`, 'a non-empty string')
    for (const k of ['enabled', 'tpm']) if (inv[k] !== undefined && typeof inv[k] !== 'boolean') throw bad(`inventory.${k}`, 'true or false')
    const pc = inv.packagesCommand
    if (pc !== undefined && pc !== false && (!Array.isArray(pc) || !pc.length || !pc.every((x) => typeof x === 'string'))) throw bad('inventory.packagesCommand', 'false or a non-empty array of strings')
  }
  if (o.download !== undefined) {
    if (typeof o.download !== 'object' || o.download === null) throw bad('download', 'an object')
    const d = o.download as Record<string, unknown>
    for (const k of ['deadlineSeconds', 'minBytesPerSecond', 'lowSpeedWindowSeconds', 'checkpointBytes', 'bandwidthBytesPerSecond', 'retries', 'retryDelayMs', 'maxAttempts']) {
      if (d[k] !== undefined && (typeof d[k] !== 'number' || !Number.isFinite(d[k]) || (d[k] as number) < 0)) throw bad(`download.${k}`, 'a number ≥ 0')
    }
  }
  num(o, 'pollJitter')
  if (typeof o.slots !== 'object' || o.slots === null || typeof (o.slots as { kind?: unknown }).kind !== 'string') throw bad('slots', 'an object with a kind (uboot, grub, tryboot, file)')
  if (o.rebootCommand !== undefined && (!Array.isArray(o.rebootCommand) || !o.rebootCommand.every((x) => typeof x === 'string') || !o.rebootCommand.length))
    throw bad('rebootCommand', 'a non-empty array of strings')
  if (o.installed !== undefined) {
    const i = o.installed as Record<string, unknown>
    if (typeof i !== 'object' || typeof i.name !== 'string' || typeof i.version !== 'string' || !/^[0-9a-f]{64}$/.test(String(i.sha256)) || !Number.isInteger(i.securityVersion))
      throw bad('installed', '{ name, version, sha256 (hex), securityVersion }')
  }
  if (o.tpm !== undefined) {
    const tpm = o.tpm as Record<string, unknown>
    if (typeof tpm !== 'object' || tpm === null || typeof tpm.tcti !== 'string' || !tpm.tcti) throw bad('tpm', 'an object with a tcti, e.g. { "tcti": "device:/dev/tpmrm0" }')
    if (tpm.keyHandle !== undefined && (typeof tpm.keyHandle !== 'string' || !/^0x81[0-7][0-9a-f]{5}$/i.test(tpm.keyHandle))) throw bad('tpm.keyHandle', 'a persistent handle 0x81000000–0x817fffff')
    if (tpm.workDir !== undefined && (typeof tpm.workDir !== 'string' || !tpm.workDir)) throw bad('tpm.workDir', 'a non-empty string')
    if (tpm.flush !== undefined && typeof tpm.flush !== 'boolean') throw bad('tpm.flush', 'true or false')
    if (tpm.timeoutSeconds !== undefined && (typeof tpm.timeoutSeconds !== 'number' || !(tpm.timeoutSeconds >= 1))) throw bad('tpm.timeoutSeconds', 'a number ≥ 1')
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p))
  const c = o as unknown as AgentConfig
  return {
    ...c,
    dataDir: abs(c.dataDir),
    trustedRootFile: abs(c.trustedRootFile),
    credentialFile: abs(c.credentialFile ?? join(c.dataDir, 'credential.json')),
    ...(c.tpm?.workDir ? { tpm: { ...c.tpm, workDir: abs(c.tpm.workDir) } } : {}),
    keyFile: abs(c.keyFile ?? join(c.dataDir, 'device-key.pem')),
  }
}

export async function loadConfigFile(path: string): Promise<AgentConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `config file ${path}: ${(e as Error).message}`, { path }, { cause: e })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `config file ${path} is not JSON: ${(e as Error).message}`, { path }, { cause: e })
  }
  return validateConfig(raw, dirname(resolve(path)))
}

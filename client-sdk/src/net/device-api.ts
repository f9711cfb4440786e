/**
 * The device API of client-sdk/DEVICE-API.md, and nothing else: each call maps
 * the HTTP answer to a typed result or an AgentError (5xx → SERVER_ERROR,
 * 401/403 → CREDENTIAL_REJECTED, other 4xx → SERVER_REJECTED with the server's
 * code, a 2xx body of the wrong shape → SERVER_RESPONSE_INVALID).
 */
import { canonicalWire } from '../../../signing/canonical-json.js'
import { DELTA_FORMATS_HEADER, deltaFormatsHeader } from '../delta/format.js'
import { AgentError } from '../errors.js'
import type { InventoryReport } from '../inventory/digest.js'
import type { DeviceKey } from '../identity/device-key.js'
import { signRequest } from '../identity/request-signer.js'
import type { HttpClient } from './http-client.js'

/** How requests prove the device: its key and certificate serial (signatures), or an old bearer credential. */
export type DeviceAuth = { key: DeviceKey; serial: string } | { bearer: string }

export interface EnrollRequest {
  enrollmentToken: string
  hardwareId: string
  hardware: string
  tags?: string[]
  installed?: { name: string; version: string; sha256: string; securityVersion: number }[]
  /** PEM PKCS#10 request for the device key */
  csr?: string
  /** key attestation (TPM), passed through */
  attestation?: unknown
}

export interface CertificateResult {
  deviceId: string
  group?: string
  state: 'active' | 'pending'
  certificate: string
  serial: string
  notAfter: string
  caCertificate: string
}

export interface EnrollResult extends Partial<CertificateResult> {
  deviceId: string
  /** old bearer enrollment only */
  credential?: string
  group?: string
  pollIntervalSeconds?: number
}

/** A 200 poll answer. Signed documents are kept as canonical bytes, ready for `signing/verify`. */
export interface Offer {
  etag?: string
  assignment: Buffer
  release: Buffer
  delta?: Buffer
  artifact: { url: string; length: number }
  patch?: { url: string; length: number }
  action: 'install' | 'rollback'
  pollIntervalSeconds?: number
}

export type PollResult =
  | { kind: 'none'; pollIntervalSeconds?: number }
  | { kind: 'not-modified'; pollIntervalSeconds?: number }
  | { kind: 'offer'; offer: Offer }

export interface DeviceEvent {
  id: string
  seq: number
  rolloutId: string
  release: { name: string; version: string }
  state: 'downloading' | 'installing' | 'rebooting' | 'health-checking' | 'succeeded' | 'failed' | 'rolled-back'
  /** how the release got into its slot */
  mode?: 'full' | 'delta' | 'slot-switch'
  /** on `downloading`: bytes of the payload (patch or image) received so far */
  progress?: { bytes: number; total: number }
  reason?: { code: string; message: string }
  at: string
}

/**
 * Something the device refused or found that is not an install outcome: a
 * refused offer (a replayed assignment, say) or an integrity drift. Never
 * counted against a rollout.
 */
export interface SecurityEvent {
  id: string
  seq: number
  kind: 'offer-refused' | 'integrity' | 'integrity-timeout'
  reason: { code: string; message: string }
  /** what an integrity check found (kinds integrity, integrity-timeout) */
  integrity?: IntegrityFinding
  /** what the refused documents claimed, unverified (for the operator, never acted on) */
  claimed?: { rolloutId?: string; release?: { name: string; version: string }; counter?: number }
  at: string
}

/** An integrity check's finding: the target no longer hashes to its signed sha256, or the check ran out of time. */
export interface IntegrityFinding {
  target: 'os' | 'model'
  release: { name: string; version: string }
  /** the signed sha256 hashed against */
  sha256: string
  /** what it hashed to (drift only) */
  actual?: string
  /** first 1 MiB region whose hash differs from the one recorded when the content was last found intact; null: none recorded */
  firstDifferingMiB?: number | null
  checkedBytes: number
  elapsedMs: number
}

export interface HealthReport {
  id: string
  seq: number
  rolloutId?: string
  release: { name: string; version: string }
  bootOk: boolean
  checks: { name: string; ok: boolean; output?: string }[]
  metrics?: Record<string, number>
  at: string
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const invalid = (what: string) => new AgentError('SERVER_RESPONSE_INVALID', `server answer: ${what}`)

function intervalOf(h: string | string[] | undefined): number | undefined {
  const n = Number(Array.isArray(h) ? h[0] : h)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

function link(v: unknown, what: string): { url: string; length: number } {
  if (!isObj(v) || typeof v.url !== 'string' || !Number.isSafeInteger(v.length) || (v.length as number) < 0) throw invalid(`${what} is not { url, length }`)
  return { url: v.url, length: v.length as number }
}

export function parseOffer(body: unknown, etag: string | undefined): Offer {
  if (!isObj(body)) throw invalid('poll body is not an object')
  const env = (v: unknown, what: string) => {
    if (!isObj(v)) throw invalid(`${what} is not a signed envelope`)
    return Buffer.from(canonicalWire(v), 'utf8')
  }
  const action = body.action ?? 'install'
  if (action !== 'install' && action !== 'rollback') throw invalid(`unknown action ${String(action)}`)
  return {
    ...(etag ? { etag } : {}),
    assignment: env(body.assignment, 'assignment'),
    release: env(body.release, 'release'),
    ...(body.delta !== undefined && body.delta !== null ? { delta: env(body.delta, 'delta') } : {}),
    artifact: link(body.artifact, 'artifact'),
    ...(body.patch !== undefined && body.patch !== null ? { patch: link(body.patch, 'patch') } : {}),
    action,
    ...(typeof body.pollIntervalSeconds === 'number' && body.pollIntervalSeconds > 0 ? { pollIntervalSeconds: body.pollIntervalSeconds } : {}),
  }
}

export class DeviceApi {
  constructor(
    readonly server: URL,
    private readonly http: HttpClient,
    /** the device's proof; a string is an old bearer credential */
    private readonly auth: () => DeviceAuth | string | undefined,
    /** each call ends with NETWORK_ERROR after this long (a server dripping its answer never ends on its own), ms */
    private readonly deadlineMs = 60_000,
  ) {}

  #deadline(): { signal: AbortSignal } {
    return { signal: AbortSignal.timeout(this.deadlineMs) }
  }

  url(path: string): URL {
    return new URL(path, this.server)
  }

  /** Headers proving the device for one request: a fresh signature (new nonce) every time. */
  async authHeaders(method: string, url: URL, body?: string): Promise<Record<string, string>> {
    const a = this.auth()
    if (!a) throw new AgentError('NOT_ENROLLED', 'no device identity: run `slipway-agent enroll` first')
    if (typeof a === 'string') return { authorization: `Bearer ${a}` }
    if ('bearer' in a) return { authorization: `Bearer ${a.bearer}` }
    return signRequest(a.key, a.serial, { method, target: url.pathname + url.search, ...(body !== undefined ? { body } : {}) })
  }

  async #json(method: string, path: string, body: unknown, auth: boolean | 'if-enrolled', ok: number[]): Promise<{ status: number; json: unknown; headers: Record<string, string | string[] | undefined> }> {
    const url = this.url(path)
    const bytes = body === undefined ? undefined : JSON.stringify(body)
    const proves = auth === true || (auth === 'if-enrolled' && this.auth() !== undefined)
    const headers: Record<string, string> = { accept: 'application/json', ...(proves ? await this.authHeaders(method, url, bytes) : {}) }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await this.http
      .fetchBytes(url, { method, headers, body: bytes, ...this.#deadline() })
      .catch((e: unknown) => Promise.reject(deadlineOr(e, `${method} ${path}`, this.deadlineMs)))
    let json: unknown
    if (res.body.length > 0) {
      try {
        json = JSON.parse(res.body.toString('utf8'))
      } catch {
        if (ok.includes(res.status)) throw invalid(`${method} ${path} answered ${res.status} with a body that is not JSON`)
      }
    }
    if (!ok.includes(res.status)) throw statusError(res.status, json, `${method} ${path}`)
    return { status: res.status, json, headers: res.headers }
  }

  /** Enroll; an already enrolled device signs the request with its current key (proof: no approval needed). */
  async enroll(req: EnrollRequest): Promise<EnrollResult> {
    const { json } = await this.#json('POST', '/v1/device/enroll', req, 'if-enrolled', [200, 201, 202])
    if (!isObj(json) || typeof json.deviceId !== 'string') throw invalid('enroll answer lacks deviceId')
    const withCert = typeof json.certificate === 'string' && typeof json.serial === 'string'
    if (!withCert && (typeof json.credential !== 'string' || !json.credential)) throw invalid('enroll answer lacks a certificate (or credential)')
    return json as unknown as EnrollResult
  }

  /** Round 1 of a TPM key attestation, before enrollment (DEVICE-API.md "TPM key attestation"). */
  async attestationChallenge(req: { enrollmentToken: string; ekCertificate: string; akPublic: string }): Promise<{ challenge: string; credentialBlob: string; encryptedSecret: string }> {
    const { json } = await this.#json('POST', '/v1/device/attestation-challenge', req, false, [200])
    if (!isObj(json) || typeof json.challenge !== 'string' || typeof json.credentialBlob !== 'string' || typeof json.encryptedSecret !== 'string')
      throw invalid('attestation challenge lacks challenge, credentialBlob or encryptedSecret')
    return json as { challenge: string; credentialBlob: string; encryptedSecret: string }
  }

  /** A new certificate for the key in `csr`, the request signed with the current key. */
  async renew(csr: string): Promise<CertificateResult> {
    const { json } = await this.#json('POST', '/v1/device/certificate', { csr }, true, [200])
    if (!isObj(json) || typeof json.certificate !== 'string' || typeof json.serial !== 'string') throw invalid('renewal answer lacks a certificate')
    return json as unknown as CertificateResult
  }

  async poll(etag?: string): Promise<PollResult> {
    const url = this.url('/v1/device/update')
    const headers: Record<string, string> = {
      accept: 'application/json',
      // the delta formats this applier takes (format v2 names its zlib): the server offers no other
      [DELTA_FORMATS_HEADER]: deltaFormatsHeader(),
      ...(await this.authHeaders('GET', url)),
      ...(etag ? { 'if-none-match': etag } : {}),
    }
    const res = await this.http
      .fetchBytes(url, { headers, ...this.#deadline() })
      .catch((e: unknown) => Promise.reject(deadlineOr(e, 'GET /v1/device/update', this.deadlineMs)))
    const interval = intervalOf(res.headers['slipway-poll-interval'])
    const withInterval = interval ? { pollIntervalSeconds: interval } : {}
    if (res.status === 204) return { kind: 'none', ...withInterval }
    if (res.status === 304) return { kind: 'not-modified', ...withInterval }
    let json: unknown
    try {
      json = res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined
    } catch {
      if (res.status === 200) throw invalid('poll answered 200 with a body that is not JSON')
    }
    if (res.status !== 200) throw statusError(res.status, json, 'GET /v1/device/update')
    const tag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined
    return { kind: 'offer', offer: parseOffer(json, tag) }
  }

  async events(events: DeviceEvent[]): Promise<void> {
    await this.#json('POST', '/v1/device/events', { events }, true, [200])
  }

  async security(event: SecurityEvent): Promise<void> {
    await this.#json('POST', '/v1/device/security-events', event, true, [200])
  }

  async health(report: HealthReport): Promise<void> {
    await this.#json('POST', '/v1/device/health', report, true, [200])
  }

  /** PUT /v1/device/inventory: `wantPackages` asks for the package list with the next report. */
  async inventory(report: InventoryReport): Promise<{ changed: boolean; wantPackages: boolean }> {
    const { json } = await this.#json('PUT', '/v1/device/inventory', report, true, [200])
    if (!isObj(json) || typeof json.wantPackages !== 'boolean') throw invalid('inventory answer lacks wantPackages')
    return { changed: json.changed === true, wantPackages: json.wantPackages }
  }

  /** Root metadata version `n` (canonical bytes), or undefined when the server has no such version (end of the chain). */
  async root(n: number): Promise<Buffer | undefined> {
    const res = await this.http
      .fetchBytes(this.url(`/v1/trust/root/${n}.json`), { headers: { accept: 'application/json' }, ...this.#deadline() })
      .catch((e: unknown) => Promise.reject(deadlineOr(e, `GET /v1/trust/root/${n}.json`, this.deadlineMs)))
    if (res.status === 404) return undefined
    if (res.status !== 200) throw statusError(res.status, undefined, `GET /v1/trust/root/${n}.json`)
    return res.body
  }
}

/** A call cut by its deadline says so (the abort itself only says "aborted"). */
function deadlineOr(e: unknown, what: string, ms: number): unknown {
  const err = e as { name?: string; cause?: { name?: string }; message?: string }
  const aborted = err?.name === 'AbortError' || err?.cause?.name === 'AbortError' || /aborted/i.test(String(err?.message))
  return aborted ? new AgentError('NETWORK_ERROR', `${what}: no complete answer within ${ms / 1000} s`, { deadline: true }, { cause: e }) : e
}

export function statusError(status: number, json: unknown, what: string): AgentError {
  const e = isObj(json) && isObj(json.error) ? json.error : {}
  const code = typeof e.code === 'string' ? e.code : undefined
  const message = typeof e.message === 'string' ? e.message : ''
  const details = { status, ...(code ? { serverCode: code } : {}) }
  if (status >= 500) return new AgentError('SERVER_ERROR', `${what}: ${status} ${message}`.trim(), details)
  if (status === 401 || status === 403) return new AgentError('CREDENTIAL_REJECTED', `${what}: ${status} ${code ?? ''} ${message}`.trim(), details)
  if (status >= 400) return new AgentError('SERVER_REJECTED', `${what}: ${status} ${code ?? ''} ${message}`.trim(), details)
  return new AgentError('SERVER_RESPONSE_INVALID', `${what}: unexpected status ${status}`, details)
}

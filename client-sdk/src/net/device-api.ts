/**
 * The device API of client-sdk/DEVICE-API.md, and nothing else: each call maps
 * the HTTP answer to a typed result or an AgentError (5xx → SERVER_ERROR,
 * 401/403 → CREDENTIAL_REJECTED, other 4xx → SERVER_REJECTED with the server's
 * code, a 2xx body of the wrong shape → SERVER_RESPONSE_INVALID).
 */
import { canonicalWire } from '../../../signing/canonical-json.js'
import { DELTA_FORMATS_HEADER, deltaFormatsHeader } from '../delta/format.js'
import { AgentError } from '../errors.js'
import type { DeviceKey } from '../identity/device-key.js'
import { signRequest } from '../identity/request-signer.js'
import {
  AttestationChallengeSchema,
  CertificateGrantSchema,
  EnrollReplySchema,
  InventoryReplySchema,
  POLL_INTERVAL_HEADER,
  PollOfferSchema,
  problemOf,
  type AttestationChallenge,
  type AttestationChallengeRequest,
  type BlobLink,
  type CertificateGrant,
  type DeviceEvent,
  type EnrollReply,
  type EnrollRequest,
  type FromSchema,
  type HealthReport,
  type InventoryReply,
  type InventoryReport,
  type JsonSchema,
  type PollOffer,
  type SecurityEvent,
} from '../wire/index.js'
import type { HttpClient } from './http-client.js'

// the contract's types, where the agent has always imported them from
export type { DeviceEvent, EnrollReply, EnrollRequest, HealthReport, IntegrityFinding, SecurityEvent } from '../wire/index.js'

/** How requests prove the device: its key and certificate serial (signatures), or an old bearer credential. */
export type DeviceAuth = { key: DeviceKey; serial: string } | { bearer: string }

/** A 200 poll answer (wire `PollOffer`) with each signed document kept as canonical bytes, ready for `signing/verify`. */
export interface Offer {
  etag?: string
  assignment: Buffer
  release: Buffer
  delta?: Buffer
  artifact: BlobLink
  patch?: BlobLink
  action: NonNullable<PollOffer['action']>
  pollIntervalSeconds?: number
}

export type PollResult =
  | { kind: 'none'; pollIntervalSeconds?: number }
  | { kind: 'not-modified'; pollIntervalSeconds?: number }
  | { kind: 'offer'; offer: Offer }

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const invalid = (what: string) => new AgentError('SERVER_RESPONSE_INVALID', `server answer: ${what}`)

/** The answer, checked against its wire schema: SERVER_RESPONSE_INVALID names the first problem. */
function answer<const S extends JsonSchema>(schema: S, json: unknown, what: string): FromSchema<S> {
  const problem = problemOf(schema, json)
  if (problem) throw invalid(`${what}: ${problem}`)
  return json as FromSchema<S>
}

function intervalOf(h: string | string[] | undefined): number | undefined {
  const n = Number(Array.isArray(h) ? h[0] : h)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

export function parseOffer(body: unknown, etag: string | undefined): Offer {
  const o = answer(PollOfferSchema, body, 'poll')
  const bytes = (v: Record<string, unknown>) => Buffer.from(canonicalWire(v), 'utf8')
  return {
    ...(etag ? { etag } : {}),
    assignment: bytes(o.assignment),
    release: bytes(o.release),
    ...(o.delta ? { delta: bytes(o.delta) } : {}),
    artifact: { url: o.artifact.url, length: o.artifact.length },
    ...(o.patch ? { patch: { url: o.patch.url, length: o.patch.length } } : {}),
    action: o.action ?? 'install',
    ...(o.pollIntervalSeconds !== undefined ? { pollIntervalSeconds: o.pollIntervalSeconds } : {}),
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

  /**
   * One request with fresh proof. A signature refused as replayed is signed again once,
   * with a new nonce: behind a proxy that retries a request on another replica (nginx
   * proxy_next_upstream), the first replica may have spent the nonce before it died.
   */
  async #send(method: string, url: URL, headers: Record<string, string>, proves: boolean, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const what = `${method} ${url.pathname}`
    for (let attempt = 1; ; attempt++) {
      const proof = proves ? await this.authHeaders(method, url, body) : {}
      const res = await this.http
        .fetchBytes(url, { method, headers: { ...headers, ...proof }, ...(body !== undefined ? { body } : {}), ...this.#deadline() })
        .catch((e: unknown) => Promise.reject(deadlineOr(e, what, this.deadlineMs)))
      if (attempt === 1 && 'signature' in proof && res.status === 401 && serverCode(res.body) === 'DEVICE_SIGNATURE_REPLAYED') continue
      return res
    }
  }

  async #json(method: string, path: string, body: unknown, auth: boolean | 'if-enrolled', ok: number[]): Promise<{ status: number; json: unknown; headers: Record<string, string | string[] | undefined> }> {
    const url = this.url(path)
    const bytes = body === undefined ? undefined : JSON.stringify(body)
    const proves = auth === true || (auth === 'if-enrolled' && this.auth() !== undefined)
    const headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }
    const res = await this.#send(method, url, headers, proves, bytes)
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
  async enroll(req: EnrollRequest): Promise<EnrollReply> {
    const { json } = await this.#json('POST', '/v1/device/enroll', req, 'if-enrolled', [200, 201, 202])
    return answer(EnrollReplySchema, json, 'enroll')
  }

  /** Round 1 of a TPM key attestation, before enrollment (DEVICE-API.md "TPM key attestation"). */
  async attestationChallenge(req: AttestationChallengeRequest): Promise<AttestationChallenge> {
    const { json } = await this.#json('POST', '/v1/device/attestation-challenge', req, false, [200])
    return answer(AttestationChallengeSchema, json, 'attestation challenge')
  }

  /** A new certificate for the key in `csr`, the request signed with the current key. */
  async renew(csr: string): Promise<CertificateGrant> {
    const { json } = await this.#json('POST', '/v1/device/certificate', { csr }, true, [200])
    return answer(CertificateGrantSchema, json, 'renewal')
  }

  async poll(etag?: string): Promise<PollResult> {
    const url = this.url('/v1/device/update')
    const res = await this.#send('GET', url, {
      accept: 'application/json',
      // the delta formats this applier takes (format v2 names its zlib): the server offers no other
      [DELTA_FORMATS_HEADER]: deltaFormatsHeader(),
      ...(etag ? { 'if-none-match': etag } : {}),
    }, true)
    const interval = intervalOf(res.headers[POLL_INTERVAL_HEADER])
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
  async inventory(report: InventoryReport): Promise<InventoryReply> {
    const { json } = await this.#json('PUT', '/v1/device/inventory', report, true, [200])
    const r = answer(InventoryReplySchema, json, 'inventory')
    return { changed: r.changed, wantPackages: r.wantPackages }
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

/** The `error.code` of a JSON error body, if it has one. */
function serverCode(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } }
    return typeof json?.error?.code === 'string' ? json.error.code : undefined
  } catch {
    return undefined
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

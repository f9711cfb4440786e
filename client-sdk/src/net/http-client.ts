/**
 * Minimal HTTP(S) client on node:http/node:https. Not fetch: Node 20's fetch
 * cannot present a client certificate (mTLS) without the undici package, and the
 * downloader needs the raw response stream, manual redirects and exact
 * Content-Length handling. Redirects are never followed here.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import https from 'node:https'
import { AgentError } from '../errors.js'

export interface TlsOptions {
  /** PEM client certificate chain for mTLS */
  cert?: string | Buffer
  /** PEM private key of the client certificate */
  key?: string | Buffer
  /** PEM CA bundle to trust instead of the system store (a private server CA) */
  ca?: string | Buffer
}

export interface HttpClientOptions {
  tls?: TlsOptions
  /** no byte received for this long aborts the request, ms (default 30 000) */
  idleTimeoutMs?: number
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: IncomingMessage
}

export interface RequestInit {
  method?: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** aborts the request and its body (deadlines: a server that drips bytes never ends on its own) */
  signal?: AbortSignal
}

export class HttpClient {
  readonly #agents: { http: http.Agent; https: https.Agent }
  readonly #idleMs: number

  constructor(opts: HttpClientOptions = {}) {
    this.#idleMs = opts.idleTimeoutMs ?? 30_000
    this.#agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 4 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 4, ...opts.tls }),
    }
  }

  request(url: URL, init: RequestInit = {}): Promise<HttpResponse> {
    const secure = url.protocol === 'https:'
    if (!secure && url.protocol !== 'http:') return Promise.reject(new AgentError('CONFIG_INVALID', `unsupported URL scheme ${url.protocol}`))
    const mod = secure ? https : http
    const body = init.body === undefined ? undefined : Buffer.from(init.body)
    const headers = { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) }
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: init.method ?? 'GET', headers, agent: secure ? this.#agents.https : this.#agents.http, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
        res.setTimeout(this.#idleMs, () => res.destroy(new AgentError('NETWORK_ERROR', `no data from ${url.host} for ${this.#idleMs} ms`)))
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res })
      })
      req.setTimeout(this.#idleMs, () => req.destroy(new AgentError('NETWORK_ERROR', `no answer from ${url.host} in ${this.#idleMs} ms`)))
      req.on('error', (e) => reject(asNetworkError(e, url)))
      req.end(body)
    })
  }

  /** Request and read the whole body (capped: a server cannot make the agent buffer without bound). */
  async fetchBytes(url: URL, init: RequestInit = {}, maxBytes = 1 << 20): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const res = await this.request(url, init)
    return { status: res.status, headers: res.headers, body: await readCapped(res.body, maxBytes) }
  }

  close(): void {
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }
}

export function asNetworkError(e: unknown, url: URL): AgentError {
  if (e instanceof AgentError) return e
  const err = e as NodeJS.ErrnoException
  return new AgentError('NETWORK_ERROR', `${url.host}: ${err.code ?? ''} ${err.message}`.trim(), { errno: err.code }, { cause: e })
}

export async function readCapped(body: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let n = 0
  try {
    for await (const chunk of body) {
      n += (chunk as Buffer).length
      if (n > maxBytes) {
        body.destroy()
        throw new AgentError('SERVER_RESPONSE_INVALID', `response body exceeds ${maxBytes} bytes`)
      }
      parts.push(chunk as Buffer)
    }
  } catch (e) {
    if (e instanceof AgentError) throw e
    throw new AgentError('NETWORK_ERROR', `body read failed: ${(e as Error).message}`, undefined, { cause: e })
  }
  return Buffer.concat(parts)
}

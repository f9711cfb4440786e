/**
 * Resumable artifact download into a positional sink (a slot device or file):
 *   - Range + If-Range (RFC 7233 §3.1, §3.2): resume at the last durable offset,
 *     after a dropped connection in this process and, through `resume`, after a
 *     restart; a changed validator gets a full 200 and the download starts over;
 *   - the sha256 is computed while streaming (on a resume after restart, the
 *     prefix already in the sink is re-read and re-hashed, which also proves the
 *     sink still holds it); never more bytes than the signed length;
 *   - optional bandwidth cap; redirects per `redirects.ts`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { PayloadVerifier } from '../../../signing/verify/index.js'
import { AgentError } from '../errors.js'
import { asNetworkError, readCapped, type HttpClient, type HttpResponse } from './http-client.js'
import { followRedirect, MAX_REDIRECTS } from './redirects.js'
import { Throttle } from './throttle.js'
import { statusError } from './device-api.js'

/** Where the bytes go: written sequentially, read back only to re-hash a resumed prefix. */
export interface ByteSink {
  write(buf: Buffer, position: number): Promise<void>
  read(buf: Buffer, position: number): Promise<number>
  sync(): Promise<void>
}

export interface Checkpoint {
  /** bytes durably in the sink */
  offset: number
  /** validator of the response those bytes came from */
  etag?: string
}

export interface DownloadOptions {
  http: HttpClient
  url: URL
  /** headers for the server's origin (the credential); never sent to another host */
  headers?: Record<string, string>
  /** the signed length and sha256 of the payload */
  expected: { sha256: string; length: number }
  sink: ByteSink
  /** where an earlier run stopped (from the journal) */
  resume?: Checkpoint
  /** called after the sink is synced, at most every `checkpointBytes` (default 16 MiB) */
  onCheckpoint?: (c: Checkpoint) => Promise<void>
  checkpointBytes?: number
  /** cap, bytes per second; undefined = none */
  bandwidthBytesPerSecond?: number
  /** hosts a redirect may lead to besides the server (see redirects.ts) */
  allowedRedirectHosts?: readonly string[]
  /** attempts after a network error or 5xx within this call (default 4), with delays doubling from `retryDelayMs` (default 1000) */
  retries?: number
  retryDelayMs?: number
}

export interface DownloadResult {
  sha256: string
  length: number
  /** offset the first request resumed from */
  resumedFrom: number
  requests: number
}

const WRITE_CHUNK = 1 << 20

const retryable = (e: unknown) => e instanceof AgentError && (e.code === 'NETWORK_ERROR' || e.code === 'SERVER_ERROR' || e.code === 'DOWNLOAD_TRUNCATED')

export async function download(o: DownloadOptions): Promise<DownloadResult> {
  const total = o.expected.length
  const st: Progress = { offset: 0, verifier: new PayloadVerifier(o.expected) }
  let etag = o.resume?.etag
  if (o.resume && o.resume.offset > 0 && o.resume.offset <= total) {
    // a sink that lost what the checkpoint says it holds (e.g. a staging folder wiped) starts over
    if (await rehashPrefix(o.sink, o.resume.offset, st.verifier)) st.offset = o.resume.offset
    else st.verifier = new PayloadVerifier(o.expected)
  }
  const resumedFrom = st.offset
  const throttle = new Throttle(o.bandwidthBytesPerSecond)
  const retries = o.retries ?? 4
  let requests = 0
  for (let attempt = 0; ; attempt++) {
    if (st.offset === total) break
    try {
      requests++
      const res = await open(o, st.offset, etag)
      if (res.status === 200 && st.offset > 0) {
        // If-Range said the resource changed (or the server ignores Range): start over
        st.verifier = new PayloadVerifier(o.expected)
        st.offset = 0
      }
      etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined
      await receive(o, res, st, throttle, etag)
      if (st.offset < total) throw new AgentError('DOWNLOAD_TRUNCATED', `body ended at byte ${st.offset} of ${total}`, { offset: st.offset, total })
    } catch (e) {
      if (!retryable(e) || attempt >= retries) throw e
      await sleep((o.retryDelayMs ?? 1000) * 2 ** attempt)
    }
  }
  await o.sink.sync().catch((e) => Promise.reject(sinkError(e)))
  await o.onCheckpoint?.({ offset: st.offset, ...(etag ? { etag } : {}) })
  st.verifier.finish()
  return { sha256: o.expected.sha256, length: total, resumedFrom, requests }
}

/** Feed the first `upTo` bytes of the sink to the verifier; false when the sink holds fewer. */
async function rehashPrefix(sink: ByteSink, upTo: number, verifier: PayloadVerifier): Promise<boolean> {
  const buf = Buffer.allocUnsafe(WRITE_CHUNK)
  for (let at = 0; at < upTo; ) {
    const n = await sink.read(buf.subarray(0, Math.min(buf.length, upTo - at)), at)
    if (n <= 0) return false
    verifier.update(buf.subarray(0, n))
    at += n
  }
  return true
}

/** Send the request (following allowed redirects) and check status and headers against what was asked. */
async function open(o: DownloadOptions, offset: number, etag: string | undefined): Promise<HttpResponse> {
  const total = o.expected.length
  let url = o.url
  let withCredential = true
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { ...(withCredential ? o.headers : {}), 'accept-encoding': 'identity' }
    if (offset > 0) {
      headers.range = `bytes=${offset}-`
      if (etag) headers['if-range'] = etag
    }
    const res = await o.http.request(url, { headers })
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      res.body.resume()
      const next = followRedirect(url, res.headers.location, o.url, o.allowedRedirectHosts ?? [])
      url = next.url
      withCredential = withCredential && next.withCredential
      continue
    }
    if (res.status !== 200 && res.status !== 206) {
      let json: unknown
      try {
        json = JSON.parse((await readCapped(res.body, 64 * 1024)).toString('utf8'))
      } catch {
        json = undefined
      }
      throw statusError(res.status, json, `GET ${url.pathname}`)
    }
    const start = res.status === 206 ? offset : 0
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))
      if (!m || Number(m[1]) !== offset || Number(m[3]) !== total || Number(m[2]) !== total - 1) {
        res.body.destroy()
        throw new AgentError('DOWNLOAD_RANGE_INVALID', `asked bytes ${offset}- of ${total}, got Content-Range ${String(res.headers['content-range'])}`)
      }
    }
    const announced = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length'])
    if (announced !== undefined && announced > total - start) {
      res.body.destroy()
      throw new AgentError('DOWNLOAD_TOO_LONG', `server announces ${announced} bytes from ${start}, the signed length is ${total}`, { announced, total })
    }
    return res
  }
  throw new AgentError('DOWNLOAD_REDIRECT_REFUSED', `more than ${MAX_REDIRECTS} redirects`)
}

/** Bytes in the sink and the hash over exactly those bytes (kept consistent when a body breaks off). */
interface Progress {
  offset: number
  verifier: PayloadVerifier
}

/** Stream the body into the sink from `st.offset`, advancing it as bytes are written. */
async function receive(o: DownloadOptions, res: HttpResponse, st: Progress, throttle: Throttle, etag: string | undefined): Promise<void> {
  const every = o.checkpointBytes ?? 16 << 20
  const pending = Buffer.allocUnsafe(WRITE_CHUNK)
  const verifier = st.verifier
  const announced = res.headers['content-length'] === undefined ? undefined : st.offset + Number(res.headers['content-length'])
  let fill = 0
  let sinceCheckpoint = 0
  const flush = async () => {
    if (fill === 0) return
    try {
      await o.sink.write(pending.subarray(0, fill), st.offset)
    } catch (e) {
      throw sinkError(e)
    }
    st.offset += fill
    sinceCheckpoint += fill
    fill = 0
    if (sinceCheckpoint >= every) {
      await o.sink.sync().catch((e) => Promise.reject(sinkError(e)))
      sinceCheckpoint = 0
      await o.onCheckpoint?.({ offset: st.offset, ...(etag ? { etag } : {}) })
    }
  }
  try {
    for await (const c of res.body) {
      const chunk = c as Buffer
      if (st.offset + fill + chunk.length > o.expected.length) {
        res.body.destroy()
        throw new AgentError('DOWNLOAD_TOO_LONG', `body runs past the signed length ${o.expected.length}`, { total: o.expected.length })
      }
      verifier.update(chunk)
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(chunk.length - at, pending.length - fill)
        chunk.copy(pending, fill, at, at + n)
        fill += n
        at += n
        if (fill === pending.length) await flush()
      }
      await throttle.take(chunk.length)
    }
  } catch (e) {
    // keep what arrived (hash and sink stay in step): the next attempt resumes after it
    await flush()
    if (e instanceof AgentError) throw e
    if (announced !== undefined && st.offset < announced)
      throw new AgentError('DOWNLOAD_TRUNCATED', `body broke off at byte ${st.offset}, ${announced} announced`, { offset: st.offset, announced }, { cause: e })
    throw asNetworkError(e, o.url)
  }
  await flush()
}

function sinkError(e: unknown): AgentError {
  if (e instanceof AgentError) return e
  const errno = (e as NodeJS.ErrnoException).code
  if (errno === 'ENOSPC' || errno === 'EFBIG' || errno === 'EDQUOT')
    return new AgentError('SLOT_NO_SPACE', `no space left writing the slot (${errno})`, { errno }, { cause: e })
  return new AgentError('SLOT_WRITE_FAILED', `writing the slot failed: ${(e as Error).message}`, { errno }, { cause: e })
}

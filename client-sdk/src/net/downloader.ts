/**
 * Resumable artifact download into a positional sink (a slot device or file):
 *   - Range + If-Range (RFC 7233 §3.1, §3.2): resume at the last durable offset,
 *     after a dropped connection in this process and, through `resume`, after a
 *     restart; a changed validator gets a full 200 and the download starts over;
 *   - the sha256 is computed while streaming (on a resume after restart, the
 *     prefix already in the sink is re-read and re-hashed, which also proves the
 *     sink still holds it); never more bytes than the signed length;
 *   - optional bandwidth cap; redirects per `redirects.ts`;
 *   - progress always counts (issue 12 §6): a response that broke off keeps its
 *     bytes, syncs them and checkpoints the offset before the retry, and a
 *     request that made progress does not use up the retry budget, so a link
 *     that drops every MiB still finishes; an overall deadline and a minimum
 *     throughput (over a window) end a dripping server with NETWORK_ERROR.
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
  /** headers for the server's origin; never sent to another host */
  headers?: Record<string, string>
  /** the device's proof for one request to the server's origin (a fresh signature each time); never sent to another host */
  authHeaders?: (url: URL) => Promise<Record<string, string>>
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
  /** the whole call ends with NETWORK_ERROR after this long, ms (default none); progress so far is checkpointed */
  deadlineMs?: number
  /** a response slower than this over `lowSpeedWindowMs` is cut with NETWORK_ERROR, bytes/s (default none) */
  minBytesPerSecond?: number
  /** window of the minimum-throughput rule, ms (default 60 000) */
  lowSpeedWindowMs?: number
  /** called as bytes arrive (at most every MiB written), for progress displays */
  onProgress?: (offset: number, total: number) => void
  /** SIGTERM: stop at the next write, checkpoint what arrived, throw AGENT_STOPPING */
  stop?: AbortSignal
  /** code of a write error when the sink lives in the data folder (staged patch/model) rather than a slot */
  sinkNoSpaceCode?: 'SLOT_NO_SPACE' | 'DATA_NO_SPACE'
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
  const st: Progress = { offset: 0, durable: 0, sinceCheckpoint: 0, verifier: new PayloadVerifier(o.expected) }
  let etag = o.resume?.etag
  if (o.resume && o.resume.offset > 0 && o.resume.offset <= total) {
    // a sink that lost what the checkpoint says it holds (e.g. a staging folder wiped) starts over
    if (await rehashPrefix(o.sink, o.resume.offset, st.verifier)) st.offset = st.durable = o.resume.offset
    else st.verifier = new PayloadVerifier(o.expected)
  }
  const resumedFrom = st.offset
  const throttle = new Throttle(o.bandwidthBytesPerSecond)
  const retries = o.retries ?? 4
  const deadline = o.deadlineMs ? Date.now() + o.deadlineMs : Infinity
  const signal = o.deadlineMs ? AbortSignal.timeout(o.deadlineMs) : undefined
  let requests = 0
  // failed requests in a row that made no progress: a request that got further than any before does not use up the budget
  let fruitless = 0
  let furthest = st.offset
  while (st.offset < total) {
    try {
      if (Date.now() >= deadline) throw deadlineError(o)
      if (o.stop?.aborted) throw stopping()
      requests++
      const res = await open(o, st.offset, etag, signal)
      if (res.status === 200 && st.offset > 0) {
        // If-Range said the resource changed (or the server ignores Range): start over
        st.verifier = new PayloadVerifier(o.expected)
        st.offset = st.durable = 0
      }
      etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined
      await receive(o, res, st, throttle, etag, signal)
      if (st.offset < total) throw new AgentError('DOWNLOAD_TRUNCATED', `body ended at byte ${st.offset} of ${total}`, { offset: st.offset, total })
    } catch (e) {
      if (signal?.aborted) throw deadlineError(o, e)
      if (o.stop?.aborted) throw stopping()
      if (e instanceof AgentError && e.code === 'DOWNLOAD_RESUME_MISMATCH') {
        // the durable prefix is not of what the server serves now: the next attempt starts at byte 0
        await o.onCheckpoint?.({ offset: 0 })
        throw e
      }
      const progressed = st.offset > furthest && !(e instanceof AgentError && (e.details?.tooSlow || e.details?.stopping))
      furthest = Math.max(furthest, st.offset)
      fruitless = progressed ? 0 : fruitless + 1
      if (!retryable(e) || fruitless > retries) throw e
      const wait = progressed ? (o.retryDelayMs ?? 1000) : (o.retryDelayMs ?? 1000) * 2 ** (fruitless - 1)
      if (Date.now() + wait >= deadline) throw deadlineError(o, e)
      await sleep(wait)
    }
  }
  await o.sink.sync().catch((e) => Promise.reject(sinkError(e, o)))
  await o.onCheckpoint?.({ offset: st.offset, ...(etag ? { etag } : {}) })
  st.verifier.finish()
  return { sha256: o.expected.sha256, length: total, resumedFrom, requests }
}

const stopping = () => new AgentError('AGENT_STOPPING', 'stopping (SIGTERM): the download is checkpointed and resumes at the next start', { stopping: true })

function deadlineError(o: DownloadOptions, cause?: unknown): AgentError {
  return new AgentError('NETWORK_ERROR', `download of ${o.url.pathname} did not finish within ${Math.round((o.deadlineMs ?? 0) / 1000)} s; progress is kept`, { deadline: true }, { cause })
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
async function open(o: DownloadOptions, offset: number, etag: string | undefined, signal: AbortSignal | undefined): Promise<HttpResponse> {
  const total = o.expected.length
  let url = o.url
  let withCredential = true
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const auth = withCredential && o.authHeaders ? await o.authHeaders(url) : {}
    const headers: Record<string, string> = { ...(withCredential ? o.headers : {}), ...auth, 'accept-encoding': 'identity' }
    if (offset > 0) {
      headers.range = `bytes=${offset}-`
      if (etag) headers['if-range'] = etag
    }
    const res = await o.http.request(url, { headers, ...(signal ? { signal } : {}) })
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      res.body.resume()
      const next = followRedirect(url, res.headers.location, o.url, o.allowedRedirectHosts ?? [])
      url = next.url
      withCredential = withCredential && next.withCredential
      continue
    }
    if (res.status === 416 && offset > 0) {
      // RFC 7233 §4.4: the range is not satisfiable, so what the URL serves now is not the resource our first bytes came from
      res.body.resume()
      throw resumeMismatch(offset, total, `416, Content-Range ${String(res.headers['content-range'] ?? '-')}`)
    }
    if (res.status === 206 && etag && typeof res.headers.etag === 'string' && res.headers.etag !== etag) {
      res.body.destroy()
      throw resumeMismatch(offset, total, `a 206 with ETag ${res.headers.etag}, the first bytes came with ${etag}`)
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

function resumeMismatch(offset: number, total: number, what: string): AgentError {
  return new AgentError('DOWNLOAD_RESUME_MISMATCH', `resuming at byte ${offset} of ${total}, the server answered ${what}: it now serves other bytes (another release?) under this URL; starting over`, {
    offset,
    total,
  })
}

/** Bytes in the sink and the hash over exactly those bytes (kept consistent when a body breaks off). */
interface Progress {
  offset: number
  /** bytes synced and checkpointed: what a restart resumes from */
  durable: number
  /** bytes since the last checkpoint, across responses (a link that drops every MiB still checkpoints) */
  sinceCheckpoint: number
  verifier: PayloadVerifier
}

/** Stream the body into the sink from `st.offset`, advancing it as bytes are written. */
async function receive(o: DownloadOptions, res: HttpResponse, st: Progress, throttle: Throttle, etag: string | undefined, signal: AbortSignal | undefined): Promise<void> {
  const every = o.checkpointBytes ?? 16 << 20
  const pending = Buffer.allocUnsafe(WRITE_CHUNK)
  const verifier = st.verifier
  const announced = res.headers['content-length'] === undefined ? undefined : st.offset + Number(res.headers['content-length'])
  let fill = 0
  const checkpoint = async () => {
    if (st.offset === st.durable) return
    await o.sink.sync().catch((e) => Promise.reject(sinkError(e, o)))
    st.sinceCheckpoint = 0
    st.durable = st.offset
    await o.onCheckpoint?.({ offset: st.offset, ...(etag ? { etag } : {}) })
  }
  const flush = async () => {
    if (fill === 0) return
    try {
      await o.sink.write(pending.subarray(0, fill), st.offset)
    } catch (e) {
      throw sinkError(e, o)
    }
    st.offset += fill
    st.sinceCheckpoint += fill
    fill = 0
    o.onProgress?.(st.offset, o.expected.length)
    if (st.sinceCheckpoint >= every) await checkpoint()
  }
  // minimum throughput: a server that drips bytes (or stalls between idle timeouts) is cut
  const windowMs = o.lowSpeedWindowMs ?? 60_000
  let windowStart = Date.now()
  let windowBytes = 0
  const watch = o.minBytesPerSecond
    ? setInterval(() => {
        if (Date.now() - windowStart < windowMs) return
        const rate = (windowBytes * 1000) / (Date.now() - windowStart)
        if (rate < o.minBytesPerSecond!)
          res.body.destroy(new AgentError('NETWORK_ERROR', `download slower than ${o.minBytesPerSecond} B/s for ${windowMs / 1000} s (${rate.toFixed(1)} B/s)`, { tooSlow: true }))
        windowStart = Date.now()
        windowBytes = 0
      }, Math.min(1000, windowMs)).unref()
    : undefined
  const onStop = () => res.body.destroy(stopping())
  o.stop?.addEventListener('abort', onStop, { once: true })
  try {
    for await (const c of res.body) {
      const chunk = c as Buffer
      windowBytes += chunk.length
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
    // keep what arrived (hash and sink stay in step) and make it durable: the next attempt, in this
    // process or after a restart, resumes after it instead of at the last periodic checkpoint
    await flush()
    await checkpoint()
    if (e instanceof AgentError) throw e
    if (signal?.aborted) throw e
    if (announced !== undefined && st.offset < announced)
      throw new AgentError('DOWNLOAD_TRUNCATED', `body broke off at byte ${st.offset}, ${announced} announced`, { offset: st.offset, announced }, { cause: e })
    throw asNetworkError(e, o.url)
  } finally {
    if (watch) clearInterval(watch)
    o.stop?.removeEventListener('abort', onStop)
  }
  await flush()
}

function sinkError(e: unknown, o: Pick<DownloadOptions, 'sinkNoSpaceCode'>): AgentError {
  if (e instanceof AgentError) return e
  const errno = (e as NodeJS.ErrnoException).code
  if (errno === 'ENOSPC' || errno === 'EFBIG' || errno === 'EDQUOT') {
    const code = o.sinkNoSpaceCode ?? 'SLOT_NO_SPACE'
    return new AgentError(code, `no space left writing ${code === 'DATA_NO_SPACE' ? 'the data folder' : 'the slot'} (${errno})`, { errno }, { cause: e })
  }
  return new AgentError('SLOT_WRITE_FAILED', `writing the slot failed: ${(e as Error).message}`, { errno }, { cause: e })
}

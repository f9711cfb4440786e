/**
 * Real loopback HTTP servers for agent tests (node:http, no mocks of the
 * client): a blob route with RFC 7233 Range/If-Range and a strong ETag, plus
 * knobs to misbehave (cut the body, send more than announced, redirect).
 * Not a test file: tap runs only `*.test.ts`.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

export interface Served {
  url: string
  host: string
  server: http.Server
  /** requests seen, in order */
  log: { method: string; path: string; headers: http.IncomingHttpHeaders }[]
  close(): Promise<void>
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => unknown

export async function serve(handler: Handler): Promise<Served> {
  const log: Served['log'] = []
  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = []
    for await (const c of req) parts.push(c as Buffer)
    log.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers })
    try {
      await handler(req, res, Buffer.concat(parts))
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e))
      else res.destroy()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    server,
    log,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

export interface BlobOptions {
  /** cut the connection after this many body bytes of every response (network loss) */
  cutAfter?: number
  /** only cut the first N responses */
  cutTimes?: number
  /** ignore Range and always answer 200 */
  ignoreRange?: boolean
  /** ETag to send (default the sha256, quoted) */
  etag?: string
}

/** Serve `data` RFC 7233 style: 200, or 206 for `Range: bytes=N-` when If-Range (if sent) matches. */
export function sendBlob(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, o: BlobOptions & { state?: { cuts: number } } = {}): void {
  const etag = o.etag ?? `"${sha256(data)}"`
  const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))
  const ifRange = req.headers['if-range']
  const ranged = !o.ignoreRange && m && (ifRange === undefined || ifRange === etag)
  const start = ranged ? Number(m![1]) : 0
  const body = data.subarray(start)
  const headers: http.OutgoingHttpHeaders = { etag, 'accept-ranges': 'bytes', 'content-length': body.length, 'content-type': 'application/octet-stream' }
  if (ranged) headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`
  res.writeHead(ranged ? 206 : 200, headers)
  const state = o.state ?? { cuts: 0 }
  if (o.cutAfter !== undefined && state.cuts < (o.cutTimes ?? Infinity)) {
    state.cuts++
    res.write(body.subarray(0, o.cutAfter), () => setTimeout(() => res.destroy(), 20))
    return
  }
  res.end(body)
}

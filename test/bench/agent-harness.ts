/**
 * Shared by the agent benchmarks: hashing and concatenating files, timing a
 * child under /usr/bin/time (wall seconds, peak RSS) and a Range-capable blob
 * route that streams from disk and counts the bytes it served.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, statSync } from 'node:fs'
import type http from 'node:http'
import { pipeline } from 'node:stream/promises'

export const MiB = 2 ** 20

export async function sha256(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c as Buffer)
  return h.digest('hex')
}

export async function concat(out: string, parts: string[]): Promise<void> {
  const w = createWriteStream(out)
  for (const p of parts) await pipeline(createReadStream(p, { highWaterMark: 4 * MiB }), w, { end: false })
  await new Promise<void>((r, j) => w.end((e?: Error | null) => (e ? j(e) : r())))
}

export interface Measure {
  s: number
  rssMb: number
}

/** Run under /usr/bin/time without blocking this process (the device API answers from here). */
export function timed(cmd: string[]): Promise<Measure & { out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'BENCH %e %M', ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      const line = err.split('\n').find((l) => l.startsWith('BENCH '))
      if (code !== 0 || !line) return reject(new Error(`${cmd.join(' ')} failed (${code}): ${err.slice(-2000)}`))
      const [, s, kb] = line.split(' ')
      resolve({ s: Number(s), rssMb: Number(kb) / 1024, out })
    })
  })
}

/** bytes served per sha256, for "bytes downloaded" figures */
export const served = new Map<string, number>()

/** Range-capable blob route streaming from disk (RFC 7233 `bytes=N-`, If-Range on the sha256 ETag). */
export function fileBlobs(files: Map<string, string>): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const sha = (req.url ?? '').split('/').pop() ?? ''
    const path = files.get(sha)
    if (!path) return void res.writeHead(404).end()
    const size = statSync(path).size
    const etag = `"${sha}"`
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))
    const start = m && (req.headers['if-range'] === undefined || req.headers['if-range'] === etag) ? Number(m[1]) : 0
    res.writeHead(start ? 206 : 200, {
      etag,
      'content-length': size - start,
      ...(start ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    })
    served.set(sha, (served.get(sha) ?? 0) + size - start)
    createReadStream(path, { start, highWaterMark: MiB }).pipe(res)
  }
}


/**
 * Shared by the agent benchmarks: hashing and concatenating files, timing a
 * child under /usr/bin/time (wall seconds, peak RSS), a Range-capable blob
 * route that streams from disk and counts the bytes it served, the device
 * folder the agent bundle runs on, and the signed offer of one update.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import type http from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Release } from '../../signing/metadata/release.js'
import { formatName } from '../../client-sdk/src/delta/index.js'
import { initFileSlots } from '../../client-sdk/src/slots/index.js'
import { releaseOf, type FakeApi } from '../client-sdk/agent/device-fixtures.js'

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


/**
 * A fresh device folder `d` for the agent bundle: file slots (slot a holding the
 * installed OS image, written by `writeSlotA`), the trusted root, an enrolled
 * credential and agent.json (`config` adds to or overrides its fields).
 */
export async function benchDevice(
  api: FakeApi,
  d: string,
  o: { writeSlotA: (path: string) => Promise<void>; osSha256: string; config?: Record<string, unknown> },
): Promise<{ config: string; slots: string; data: string }> {
  rmSync(d, { recursive: true, force: true })
  const slots = join(d, 'slots')
  const data = join(d, 'data')
  mkdirSync(slots, { recursive: true })
  mkdirSync(data, { recursive: true, mode: 0o700 })
  await o.writeSlotA(join(slots, 'slot-a.img'))
  await initFileSlots(slots, 'a')
  writeFileSync(join(d, 'root.json'), api.trust.root)
  writeFileSync(join(data, 'credential.json'), JSON.stringify({ deviceId: 'bench-1', credential: 'sld_test', server: api.url, hardwareId: 'hw', enrolledAt: '' }), { mode: 0o600 })
  const config = join(d, 'agent.json')
  writeFileSync(
    config,
    JSON.stringify({
      server: api.url,
      dataDir: data,
      trustedRootFile: join(d, 'root.json'),
      hardware: 'rpi4',
      hardwareId: 'hw',
      installed: { name: 'rootfs', version: '1.0.0', sha256: o.osSha256, securityVersion: 1 },
      slots: { kind: 'file', dir: slots, rebootCommand: ['true'] },
      logLevel: 'error',
      ...o.config,
    }),
  )
  return { config, slots, data }
}

/** Offer device bench-1 the release `over` (bytes `sha256`, `length`), downloadable whole or as a delta from `sourceSha256`. */
export async function offerBenchUpdate(
  api: FakeApi,
  over: Partial<Release>,
  o: { sha256: string; length: number; sourceSha256: string; patchSha256: string; patchLength: number },
): Promise<void> {
  const rel = { ...releaseOf(Buffer.alloc(0), over), sha256: o.sha256, length: o.length }
  const delta = { sourceSha256: o.sourceSha256, targetSha256: o.sha256, patchSha256: o.patchSha256, patchLength: o.patchLength, format: formatName(DELTA_FORMAT) }
  api.offer = {
    assignment: await api.trust.assignment({ deviceId: 'bench-1', release: { name: rel.name, version: rel.version, sha256: o.sha256 }, rolloutId: 'bench', counter: 1, delta }),
    release: await api.trust.release(rel),
    delta: await api.trust.delta(delta),
    patch: { url: `/v1/blobs/${o.patchSha256}`, length: o.patchLength },
    artifact: { url: `/v1/blobs/${o.sha256}`, length: o.length },
    action: 'install',
  }
}

/**
 * The delta format the benchmark's patches are built in (BENCH_DELTA_FORMAT, default 3):
 * what a server at SLIPWAY_DELTA_FORMAT_VERSION=3 offers today's agent, which reports it.
 */
export const DELTA_FORMAT = Number(process.env.BENCH_DELTA_FORMAT ?? 3) as 1 | 2 | 3
if (![1, 2, 3].includes(DELTA_FORMAT)) throw new Error(`BENCH_DELTA_FORMAT must be 1, 2 or 3, not ${process.env.BENCH_DELTA_FORMAT}`)

/**
 * Hash a file (or its first `length` bytes) as a whole and per 1 MiB region, at low
 * I/O priority: where `ionice` exists the bytes are read by `ionice -c3 nice -n 19
 * head -c LENGTH FILE` (idle I/O class, so the check yields to everything else on the
 * disk) and hashed in the agent; elsewhere the agent reads the file itself. A check
 * that passes its deadline ends with `timeout`, never with a result.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import type { Readable } from 'node:stream'

export const MIB = 1024 * 1024

export interface RegionHashes {
  sha256: string
  /** the first 16 hex digits of each 1 MiB region's sha256 (enough to find the region that changed) */
  mib: string[]
  bytes: number
}

export class HashTimeout extends Error {
  constructor(readonly bytes: number) {
    super(`integrity check past its time budget after ${bytes} bytes`)
  }
}

let ionice: Promise<string | undefined> | undefined

/** The ionice binary, if this system has one. */
export function findIonice(): Promise<string | undefined> {
  ionice ??= (async () => {
    for (const p of ['/usr/bin/ionice', '/bin/ionice', '/usr/sbin/ionice']) if (await access(p).then(() => true, () => false)) return p
    return undefined
  })()
  return ionice
}

function source(path: string, length: number | undefined, lowPriority: string | undefined): { stream: Readable; stop: () => void } {
  if (lowPriority) {
    const argv = ['-c3', 'nice', '-n', '19', ...(length !== undefined ? ['head', '-c', String(length), path] : ['cat', path])]
    const child = spawn(lowPriority, argv, { stdio: ['ignore', 'pipe', 'ignore'] })
    return { stream: child.stdout, stop: () => child.kill('SIGKILL') }
  }
  const stream = createReadStream(path, { ...(length !== undefined ? { end: length - 1 } : {}), highWaterMark: MIB })
  return { stream, stop: () => stream.destroy() }
}

export async function hashRegions(path: string, o: { length?: number; deadline: number; lowPriority?: boolean }): Promise<RegionHashes> {
  const io = o.lowPriority === false ? undefined : await findIonice()
  const whole = createHash('sha256')
  const mib: string[] = []
  let region = createHash('sha256')
  let inRegion = 0
  let bytes = 0
  const { stream, stop } = source(path, o.length, io)
  const timer = setTimeout(() => stop(), Math.max(0, o.deadline - Date.now()))
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; ) {
        const take = Math.min(MIB - inRegion, chunk.length - at)
        const part = chunk.subarray(at, at + take)
        whole.update(part)
        region.update(part)
        inRegion += take
        at += take
        if (inRegion === MIB) {
          mib.push(region.digest('hex').slice(0, 16))
          region = createHash('sha256')
          inRegion = 0
        }
      }
      bytes += chunk.length
      if (Date.now() > o.deadline) throw new HashTimeout(bytes)
    }
  } catch (e) {
    if (e instanceof HashTimeout || Date.now() >= o.deadline) throw new HashTimeout(bytes)
    throw e
  } finally {
    clearTimeout(timer)
    stop()
  }
  // a killed reader ends its stream early without an error: only the deadline explains a short read
  if (Date.now() >= o.deadline) throw new HashTimeout(bytes)
  if (inRegion > 0) mib.push(region.digest('hex').slice(0, 16))
  return { sha256: whole.digest('hex'), mib, bytes }
}

/** Index of the first region that differs (or that one side lacks); undefined when all agree. */
export function firstDifferingRegion(a: string[], b: string[]): number | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i
  return undefined
}

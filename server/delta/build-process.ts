import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DeltaBuildError } from './bsdiff-window.js'
import type { MakeDeltaOptions, MakeDeltaResult } from './builder.js'

/** What the build process sends back: progress, then one result or one error. */
export type BuildMessage =
  | { progress: number; total: number }
  | { result: MakeDeltaResult }
  | { error: { message: string; code?: DeltaBuildError['code'] } }

/** What the builder sends the build process: one build. */
export interface BuildRequest {
  oldPath: string
  newPath: string
  patchPath: string
  opts: Omit<MakeDeltaOptions, 'onProgress'>
}

/**
 * glibc's malloc raises its mmap threshold (up to 32 MiB) each time a mapped block is
 * freed; after that the windows' buffers, sorts and brotli tables come from heaps that
 * keep what is freed. On the dev OS pair that is ~200 MB of a ~1 GB build: 932–998 MB
 * unpinned, 787 MB pinned at 1 MiB, 770–790 at 256 KiB, 850 at 4 MiB (in-process). The
 * threshold is read from the environment once, when a process starts, so the build gets a
 * process of its own, started with it pinned.
 */
const MMAP_THRESHOLD = String(1024 * 1024)

/**
 * makeDelta in a process of its own: its memory (what the allocator keeps included) goes
 * back to the system when the build ends, so a server that builds deltas does not keep a
 * build's peak for the rest of its life, and the build's budget is that process's. Same
 * options and result as makeDelta; `peakRss` is the build process's peak; builder errors
 * keep their code. A build process that dies (killed, out of memory) is an error, and its
 * scratch files are the caller's folder to remove.
 */
export function makeDeltaIsolated(oldPath: string, newPath: string, patchPath: string, opts: MakeDeltaOptions = {}): Promise<MakeDeltaResult> {
  const { onProgress, ...rest } = opts
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./build-process-boot.mjs', import.meta.url)), [], {
      // the caller's own flags (a test runner's loaders, an inspector) are not the build's
      execArgv: [],
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? MMAP_THRESHOLD },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let settled: { ok: true; result: MakeDeltaResult } | { ok: false; error: Error } | undefined
    child.on('message', (m: BuildMessage | 'up') => {
      if (m === 'up') return void child.send({ oldPath, newPath, patchPath, opts: rest } satisfies BuildRequest)
      if ('progress' in m) return onProgress?.(m.progress, m.total)
      if ('result' in m) settled = { ok: true, result: m.result }
      else settled = { ok: false, error: m.error.code ? new DeltaBuildError(m.error.code, m.error.message) : new Error(m.error.message) }
    })
    child.once('error', (e) => {
      // a process that never started emits no 'exit'
      if (child.pid === undefined) reject(e)
      else settled ??= { ok: false, error: e }
    })
    child.once('exit', (code, signal) => {
      if (settled?.ok) return resolve(settled.result)
      if (settled) return reject(settled.error)
      reject(new Error(`the delta build process exited (${signal ?? `code ${code}`}) before it finished`))
    })
  })
}

import { open } from 'node:fs/promises'
import { parentPort, workerData } from 'node:worker_threads'
import type { Piece } from './planner.js'
import { buildRegion, emptyStats, readAt, type RegionContext } from './region.js'
import { Semaphore } from './semaphore.js'
import { SourceSorter } from './source-sorter.js'

/** What the builder gives each region worker once. */
export interface RegionWorkerData {
  sourcePath: string
  targetPath: string
  sourceSize: number
  tmpDir: string
  quality: number
  formatV3: boolean
  bsdiffWindow: number
  bsdiffMinGap: number
  sortCache: number
}

export interface RegionJob {
  id: number
  t: number
  len: number
  pieces: Piece[]
}

const data = workerData as RegionWorkerData
const port = parentPort!
const source = await open(data.sourcePath, 'r')
const target = await open(data.targetPath, 'r')
// one sorter per worker: the suffix sorts and searches are this thread's CPU work, and the
// ranges it keeps serve every window the builder sends here
const sorter = new SourceSorter((at, n) => readAt(source, at, n), data.sortCache)
const slots = new Semaphore(1)

port.on('message', (msg: RegionJob | 'close') => {
  if (msg === 'close') {
    void Promise.all([source.close(), target.close()]).finally(() => process.exit(0)) // ends this thread only
    return
  }
  const ctx: RegionContext = {
    source,
    target,
    sourceSize: data.sourceSize,
    tmpDir: data.tmpDir,
    quality: data.quality,
    formatV3: data.formatV3,
    bsdiffWindow: data.bsdiffWindow,
    bsdiffMinGap: data.bsdiffMinGap,
    bsdiffSlots: slots,
    sorter,
    stats: emptyStats(),
  }
  buildRegion(msg.t, msg.len, msg.pieces, ctx, `r${msg.t}`).then(
    ({ op, payload }) => port.postMessage({ id: msg.id, op, payload, stats: ctx.stats }),
    (e: unknown) => {
      const err = e as { message?: string; code?: string }
      port.postMessage({ id: msg.id, error: { message: err?.message ?? String(e), code: err?.code } })
    },
  )
})
port.postMessage('ready')

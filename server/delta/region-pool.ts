import { Worker } from 'node:worker_threads'
import type { OpHeader } from '../../client-sdk/src/delta/index.js'
import { DeltaBuildError } from './bsdiff-window.js'
import type { EncodedOp } from './encode-op.js'
import type { Piece } from './planner.js'
import type { BuildStats } from './region.js'
import type { RegionJob, RegionWorkerData } from './region-worker.js'

type Reply = { id: number; op: OpHeader; payload: Uint8Array; stats: BuildStats } | { id: number; error: { message: string; code?: string } }

interface Slot {
  worker: Worker
  pending: Map<number, { resolve: (r: { op: EncodedOp; stats: BuildStats }) => void; reject: (e: unknown) => void }>
}

/**
 * Region encodings (reads, cheap tests, suffix sorts, bsdiff searches, brotli) on worker
 * threads, so that both cores work and the main thread only scans, plans and writes.
 * A job goes to the worker with the fewest in flight.
 */
export class RegionPool {
  private nextId = 0
  private failed: unknown

  private constructor(private readonly slots: Slot[]) {}

  static async start(size: number, data: RegionWorkerData): Promise<RegionPool> {
    const slots: Slot[] = []
    const pool = new RegionPool(slots)
    try {
      await Promise.all(
        Array.from({ length: size }, async () => {
          const worker = new Worker(new URL('./region-worker-boot.mjs', import.meta.url), { workerData: data })
          const slot: Slot = { worker, pending: new Map() }
          slots.push(slot)
          await new Promise<void>((resolve, reject) => {
            worker.once('error', reject)
            worker.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`region worker said ${String(m)}`))))
          })
          worker.on('message', (m: Reply) => pool.reply(slot, m))
          worker.on('error', (e) => pool.fail(e))
          worker.on('exit', (code) => slot.pending.size > 0 && pool.fail(new Error(`region worker exited (${code}) with jobs in flight`)))
        }),
      )
    } catch (e) {
      await pool.close()
      throw new DeltaBuildError('DELTA_BUILD_BSDIFF', `cannot start region workers: ${String(e)}`, { cause: e })
    }
    return pool
  }

  run(t: number, len: number, pieces: Piece[]): Promise<{ op: EncodedOp; stats: BuildStats }> {
    if (this.failed) return Promise.reject(this.failed)
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject })
      slot.worker.postMessage({ id, t, len, pieces } satisfies RegionJob)
    })
  }

  private reply(slot: Slot, m: Reply): void {
    const p = slot.pending.get(m.id)
    if (!p) return
    slot.pending.delete(m.id)
    if ('error' in m) {
      p.reject(new DeltaBuildError('DELTA_BUILD_BSDIFF', `region ${m.error.code ?? ''} failed: ${m.error.message}`))
      return
    }
    const op: OpHeader = { ...m.op, sha256: Buffer.from(m.op.sha256.buffer, m.op.sha256.byteOffset, m.op.sha256.byteLength) }
    const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)
    p.resolve({ op: { op, payload }, stats: m.stats })
  }

  private fail(e: unknown): void {
    this.failed ??= e
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(e)
      s.pending.clear()
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.worker.threadId < 0) return resolve()
            s.worker.once('exit', () => resolve())
            s.worker.postMessage('close')
            // a worker that does not leave on its own within a second is stopped
            setTimeout(() => void s.worker.terminate(), 1000).unref()
          }),
      ),
    )
  }
}

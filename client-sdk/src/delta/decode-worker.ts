import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { DeltaError, type DeltaErrorCode } from './errors.js'
import { SLAB, UNTRANSPOSE_WASM_HEX, untransposeSlab } from './transpose.js'

/**
 * The largest op the decode worker takes: what our builder emits (4 MiB windows). Its
 * shared buffers are sized for it once; a larger op (another builder's, or a hostile
 * one) is decoded in the applier's own thread, as before.
 */
export const WORKER_OP_BYTES = 4 << 20
/** the largest payload it takes: an op's brotli stream may be a little larger than its output */
export const WORKER_PAYLOAD_BYTES = WORKER_OP_BYTES + (64 << 10)
/**
 * The smallest op the worker takes: a smaller one decodes here in less time than a round
 * trip costs, and a patch of small ones (the OS pair has 21 REPLACE ops of 44 KB in all,
 * between BSDIFF ops) never starts the worker, nor pays its memory.
 */
export const WORKER_MIN_OP_BYTES = 256 << 10
/** below this a worker's start-up (~30 ms, a few MB) costs more than the decoding it takes over */
export const DECODE_WORKER_MIN_BYTES = 32 << 20

/** What the worker decodes: an op whose output depends on its payload alone. */
export interface WholeOp {
  /** 0: REPLACE (a brotli stream of the bytes); ≥ 2: TRANSPOSED, by column for this stride */
  stride: number
  targetLength: number
  /** the op's brotli stream (a TRANSPOSED op's payload after its descriptor) */
  stream: Buffer
  /** names the stream in errors: 'replace' or 'transposed' */
  what: string
}

/**
 * The worker's whole program: plain JavaScript run with `eval`, so the agent's one-file
 * bundle needs no second file. It decodes one op at a time from the shared payload buffer
 * into the shared output buffer, driving node:zlib's native brotli handle with those
 * buffers as BrotliReader does (no buffer per op for the GC to find), and puts a
 * TRANSPOSED op's slabs back in order with the same WebAssembly loop as Untransposer
 * (or, without WebAssembly, the same JS function).
 * Every failure is an answer with a DeltaError code, never a thrown error.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const zlib = require('node:zlib')
const untransposeSlab = (${untransposeSlab.toString()})
const SLAB = ${SLAB}
let payload, output
// Untransposer's loop (transpose.ts): columns at 0 and the slab in order at SLAB, in its memory
let wasm
try {
  wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from('${UNTRANSPOSE_WASM_HEX}', 'hex'))).exports
} catch {}
const mem = wasm ? Buffer.from(wasm.mem.buffer) : Buffer.allocUnsafe(SLAB)
const z = zlib.createBrotliDecompress()
const h = z._handle
const state = z._writeState
const native = h && typeof h.writeSync === 'function' && typeof h.reset === 'function' && state instanceof Uint32Array
let failure
if (native) h.onerror = (message, errno, code) => { failure = message + (code ? ' (' + code + ')' : '') }
const corrupt = (message) => parentPort.postMessage({ t: 'error', code: 'DELTA_CORRUPT', message })
parentPort.on('message', (m) => {
  if (m.t === 'bufs') {
    payload = Buffer.from(m.payload)
    output = Buffer.from(m.output)
    return
  }
  const input = payload.subarray(0, m.len)
  // one byte of room more than the op's length: a stream that fills it is too long
  const out = output.subarray(0, m.targetLength + 1)
  let produced = 0
  if (input.length > 0 && native) {
    h.reset()
    failure = undefined
    h.writeSync(zlib.constants.BROTLI_OPERATION_FINISH, input, 0, input.length, out, 0, out.length)
    if (failure !== undefined) return corrupt('bad ' + m.what + ' stream in op payload: ' + failure)
    const availOut = state[0]
    const availIn = state[1]
    produced = out.length - availOut
    if (availOut === 0) return corrupt(m.what + ' stream decodes to more than the op allows')
    if (availIn > 0) return corrupt(m.what + ' stream has bytes after its end')
  } else if (input.length > 0) {
    let whole
    try {
      whole = zlib.brotliDecompressSync(input, { maxOutputLength: out.length })
    } catch (e) {
      return corrupt('bad or oversized ' + m.what + ' stream in op payload')
    }
    produced = whole.copy(out)
  }
  if (produced !== m.targetLength) return corrupt(m.what + ' data has the wrong length')
  if (m.stride > 0) {
    for (let at = 0; at < m.targetLength; at += SLAB) {
      const n = Math.min(SLAB, m.targetLength - at)
      out.copy(mem, 0, at, at + n)
      if (!wasm) {
        untransposeSlab(mem.subarray(0, n), m.stride, out.subarray(at, at + n))
        continue
      }
      // a slab's last n % stride bytes stay where they are, in out already
      const rows = Math.floor(n / m.stride)
      wasm.untranspose(rows, m.stride)
      mem.copy(out, at, SLAB, SLAB + rows * m.stride)
    }
  }
  parentPort.postMessage({ t: 'done' })
})
`

type Reply = { t: 'done' } | { t: 'error'; code: DeltaErrorCode; message: string }

/**
 * Decodes whole REPLACE and TRANSPOSED ops on a worker thread, one at a time, while the
 * applier's thread does the next op: brotli decoding was most of an apply whose ops are
 * new bytes (the all-layers model pair: 0.77 of its 1.4 s, all on one core).
 *
 * `decode` copies the op's stream into the shared payload buffer at once (the caller may
 * reuse its buffer) and resolves with a view of the shared output buffer, valid until the
 * next `decode`. A worker that dies fails what is pending and every call after.
 */
export class DecodeWorker {
  private readonly payload: Buffer
  private readonly output: Buffer
  private pending: { resolve: (r: Reply) => void; reject: (e: unknown) => void } | undefined
  private broken: unknown

  private constructor(private readonly worker: Worker) {
    const payload = new SharedArrayBuffer(WORKER_PAYLOAD_BYTES)
    const output = new SharedArrayBuffer(WORKER_OP_BYTES + 1)
    this.payload = Buffer.from(payload)
    this.output = Buffer.from(output)
    worker.postMessage({ t: 'bufs', payload, output })
    worker.on('message', (m: Reply) => {
      const p = this.pending
      this.pending = undefined
      p?.resolve(m)
    })
    const fail = (e: unknown) => {
      this.broken ??= e
      const p = this.pending
      this.pending = undefined
      p?.reject(e)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`decode worker exited (${code})`)))
  }

  /** whether to decode on a worker: when asked, else with two or more cores and a target of 32 MiB or more */
  static wanted(targetSize: number, asked?: boolean, cores = availableParallelism()): boolean {
    return asked ?? (cores > 1 && targetSize >= DECODE_WORKER_MIN_BYTES)
  }

  /** A started worker, or undefined where the runtime has no worker threads (a locked-down one). */
  static async start(): Promise<DecodeWorker | undefined> {
    try {
      // a small heap: the worker holds views of the shared buffers and one 1 MiB slab
      const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } })
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve)
        worker.once('error', reject)
      })
      return new DecodeWorker(worker)
    } catch {
      return undefined
    }
  }

  /** whether the worker takes an op of this size and payload: one large enough to pay, that fits its buffers */
  static takes(targetLength: number, streamLength: number): boolean {
    return targetLength >= WORKER_MIN_OP_BYTES && targetLength <= WORKER_OP_BYTES && streamLength <= WORKER_PAYLOAD_BYTES
  }

  get busy(): boolean {
    return this.pending !== undefined
  }

  decode(op: WholeOp): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken)
    if (this.pending) return Promise.reject(new Error('the decode worker takes one op at a time'))
    if (!DecodeWorker.takes(op.targetLength, op.stream.length)) return Promise.reject(new RangeError(`an op of ${op.targetLength} bytes does not fit the decode worker`))
    op.stream.copy(this.payload)
    return new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject }
      this.worker.postMessage({ t: 'op', len: op.stream.length, targetLength: op.targetLength, stride: op.stride, what: op.what })
    }).then((r) => {
      if (r.t === 'error') throw new DeltaError(r.code, r.message, { stream: op.what })
      return this.output.subarray(0, op.targetLength)
    })
  }

  async close(): Promise<void> {
    this.broken ??= new Error('decode worker closed')
    this.worker.removeAllListeners('exit')
    const p = this.pending
    this.pending = undefined
    p?.reject(this.broken)
    await this.worker.terminate()
  }
}

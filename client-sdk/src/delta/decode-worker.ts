import { Worker } from 'node:worker_threads'
import { DeltaError, type DeltaErrorCode } from './errors.js'
import { SLAB, UNTRANSPOSE_PIECE, UNTRANSPOSE_WASM_HEX, untransposeSlab } from './transpose.js'

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
/**
 * By default the worker decodes only once this many bytes of whole ops have come: a patch
 * of new bytes (the all-layers model: 189 MB of them), not one with a few new layers (the
 * 2-layer pair: 12 MB, where it gained nothing measurable), pays for its 12–17 MB of buffers.
 */
export const DECODE_WORKER_AFTER_BYTES = 32 << 20

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
 * The decoding program of a worker: plain JavaScript run with `eval` (the agent's one-file
 * bundle has no second file), in a block of its own so that it can run beside the hash
 * worker's program on the same thread (image-hasher.ts) or alone. It decodes one op at a
 * time from the shared payload buffer into the shared output buffer, driving node:zlib's
 * native brotli handle with those buffers as BrotliReader does (no buffer per op for the
 * GC to find), and puts a TRANSPOSED op's slabs back in order with the same WebAssembly
 * loop as Untransposer (or, without WebAssembly, the same JS function). Its decoder and
 * loop are made at the first op: a hash worker that never decodes pays nothing for them.
 * Every failure is an answer with a DeltaError code, never a thrown error.
 */
export const DECODE_PROGRAM = `{
const { parentPort } = require('node:worker_threads')
const zlib = require('node:zlib')
const untransposeSlab = (${untransposeSlab.toString()})
const SLAB = ${SLAB}
const PIECE = ${UNTRANSPOSE_PIECE}
let payload, output, d
const start = () => {
  // Untransposer's loop (transpose.ts): columns at 0 and rows in order at SLAB, in its memory
  let wasm
  try {
    wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from('${UNTRANSPOSE_WASM_HEX}', 'hex'))).exports
  } catch {}
  const z = zlib.createBrotliDecompress()
  const h = z._handle
  const state = z._writeState
  const native = h && typeof h.writeSync === 'function' && typeof h.reset === 'function' && state instanceof Uint32Array
  const r = { wasm, mem: wasm ? Buffer.from(wasm.mem.buffer) : Buffer.allocUnsafe(SLAB), h, state, native, failure: undefined }
  if (native) h.onerror = (message, errno, code) => { r.failure = message + (code ? ' (' + code + ')' : '') }
  return r
}
const corrupt = (message) => parentPort.postMessage({ t: 'decodeFailed', code: 'DELTA_CORRUPT', message })
parentPort.on('message', (m) => {
  if (m.t === 'decodeBufs') {
    payload = Buffer.from(m.payload)
    output = Buffer.from(m.output)
    return
  }
  if (m.t !== 'decode') return
  d ??= start()
  const input = payload.subarray(0, m.len)
  // one byte of room more than the op's length: a stream that fills it is too long
  const out = output.subarray(0, m.targetLength + 1)
  let produced = 0
  if (input.length > 0 && d.native) {
    d.h.reset()
    d.failure = undefined
    d.h.writeSync(zlib.constants.BROTLI_OPERATION_FINISH, input, 0, input.length, out, 0, out.length)
    if (d.failure !== undefined) return corrupt('bad ' + m.what + ' stream in op payload: ' + d.failure)
    const availOut = d.state[0]
    const availIn = d.state[1]
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
      out.copy(d.mem, 0, at, at + n)
      if (!d.wasm) {
        untransposeSlab(d.mem.subarray(0, n), m.stride, out.subarray(at, at + n))
        continue
      }
      // rows a piece at a time; a slab's last n % stride bytes stay where they are, in out already
      const rows = Math.floor(n / m.stride)
      const per = Math.max(1, Math.floor(PIECE / m.stride))
      for (let i0 = 0; i0 < rows; i0 += per) {
        const i1 = Math.min(rows, i0 + per)
        d.wasm.untranspose(rows, m.stride, i0, i1)
        d.mem.copy(out, at + i0 * m.stride, SLAB, SLAB + (i1 - i0) * m.stride)
      }
    }
  }
  parentPort.postMessage({ t: 'decoded' })
})
}
`

type Reply = { t: 'decoded' } | { t: 'decodeFailed'; code: DeltaErrorCode; message: string }

/**
 * Decodes whole REPLACE and TRANSPOSED ops on a worker thread, one at a time, while the
 * applier's thread decodes the next: brotli decoding was most of an apply whose ops are
 * new bytes (the all-layers model pair: 0.77 of its 1.44 s, all on one core). By default
 * it runs on the hash worker's thread (`on`), which is idle most of such an apply: a
 * thread of its own cost 9 MB more and was no faster once started mid-apply.
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
  private readonly onMessage: (m: { t: string }) => void
  private readonly onError: (e: unknown) => void
  private readonly onExit: (code: number) => void

  private constructor(
    private readonly worker: Worker,
    /** a thread started for this decoder alone, ended by close() */
    private readonly own: boolean,
  ) {
    const payload = new SharedArrayBuffer(WORKER_PAYLOAD_BYTES)
    const output = new SharedArrayBuffer(WORKER_OP_BYTES + 1)
    this.payload = Buffer.from(payload)
    this.output = Buffer.from(output)
    worker.postMessage({ t: 'decodeBufs', payload, output })
    const settle = (f: (p: NonNullable<DecodeWorker['pending']>) => void) => {
      const p = this.pending
      this.pending = undefined
      if (p) f(p)
    }
    const fail = (e: unknown) => {
      this.broken ??= e
      settle((p) => p.reject(this.broken))
    }
    // the thread's other program (the hasher) has replies of its own
    this.onMessage = (m) => void ((m.t === 'decoded' || m.t === 'decodeFailed') && settle((p) => p.resolve(m as Reply)))
    this.onError = fail
    this.onExit = (code) => fail(new Error(`decode worker exited (${code})`))
    worker.on('message', this.onMessage).on('error', this.onError).on('exit', this.onExit)
  }

  /** A decoder on a thread that runs DECODE_PROGRAM already (the hash worker's). */
  static on(worker: Worker): DecodeWorker {
    return new DecodeWorker(worker, false)
  }

  /** A decoder on a thread of its own, or undefined where the runtime has no worker threads (a locked-down one). */
  static async start(): Promise<DecodeWorker | undefined> {
    try {
      // a small heap: the worker holds views of the shared buffers and one 1 MiB slab
      const worker = new Worker(DECODE_PROGRAM, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } })
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve)
        worker.once('error', reject)
      })
      return new DecodeWorker(worker, true)
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
      this.worker.postMessage({ t: 'decode', len: op.stream.length, targetLength: op.targetLength, stride: op.stride, what: op.what })
    }).then((r) => {
      if (r.t === 'decodeFailed') throw new DeltaError(r.code, r.message, { stream: op.what })
      return this.output.subarray(0, op.targetLength)
    })
  }

  /** Fails what is pending and every call after; ends the thread if it is this decoder's own. */
  async close(): Promise<void> {
    this.broken ??= new Error('decode worker closed')
    this.worker.off('message', this.onMessage).off('error', this.onError).off('exit', this.onExit)
    const p = this.pending
    this.pending = undefined
    p?.reject(this.broken)
    if (this.own) await this.worker.terminate()
  }
}

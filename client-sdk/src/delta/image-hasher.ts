import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { DECODE_PROGRAM } from './decode-worker.js'

/** Where an op ends inside a chunk: its hash covers its bytes up to `at`, and must be `sha256`. */
export interface OpCut {
  at: number
  op: number
  targetOffset: number
  sha256: Buffer
}

/** The first op whose bytes did not hash to its recorded sha256. */
export interface OpHashFailure {
  op: number
  targetOffset: number
}

/**
 * Hashes the target as the writer hands it over in chunks: the whole image, and each op's
 * bytes against the op's recorded sha256. On two or more cores the hashing runs on a
 * worker thread (`WorkerHasher`): two sha256 passes over every target byte were a third of
 * the apply's CPU, and the main thread has the decoding to do meanwhile.
 */
export interface ImageHasher {
  /** a chunk buffer this hasher can read; only such buffers are passed to hash() */
  alloc(size: number): Buffer
  /**
   * hashes buf[0, len) into the image (and, unless imageOnly, into the running op hash);
   * each cut, in increasing `at`, ends an op there. Resolves once buf may be refilled.
   */
  hash(buf: Buffer, len: number, cuts: readonly OpCut[], imageOnly?: boolean): Promise<void>
  /** hashes buf[0, len) (buf from alloc) into the source hash, apart from the image's; resolves once buf may be refilled */
  hashSource(buf: Buffer, len: number): Promise<void>
  /** the source digest; nothing more may go to hashSource() */
  sourceDigest(): Promise<Buffer>
  /** true when the hashing runs beside this thread, so it can overlap the decoding */
  readonly threaded: boolean
  /** the hashing thread, when there is one: it runs DECODE_PROGRAM too, for a DecodeWorker to share */
  readonly thread?: Worker
  /** hex digest of the image so far: every byte passed to hash() before this call */
  prefix(): Promise<string>
  /** the image digest; nothing may be hashed after it */
  digest(): Promise<Buffer>
  /** the first op that failed its check, final for every hash() that has resolved */
  readonly failed: OpHashFailure | undefined
  close(): Promise<void>
}

/** below this a worker's start-up (~30 ms, a few MB) costs more than the hashing it takes over */
export const HASH_WORKER_MIN_BYTES = 32 << 20

export async function createImageHasher(targetSize: number, onWorker?: boolean, cores = availableParallelism()): Promise<ImageHasher> {
  const wanted = onWorker ?? (cores > 1 && targetSize >= HASH_WORKER_MIN_BYTES)
  if (!wanted) return new InlineHasher()
  try {
    return await WorkerHasher.start()
  } catch {
    return new InlineHasher() // no worker threads here (a locked-down runtime): hash in this thread
  }
}

/** The hashing in this thread, synchronously. */
export class InlineHasher implements ImageHasher {
  private readonly image = createHash('sha256')
  private readonly source = createHash('sha256')
  private op = createHash('sha256')
  failed: OpHashFailure | undefined
  readonly threaded = false

  alloc(size: number): Buffer {
    return Buffer.allocUnsafe(size)
  }

  async hash(buf: Buffer, len: number, cuts: readonly OpCut[], imageOnly = false): Promise<void> {
    let from = 0
    for (const c of cuts) {
      const piece = buf.subarray(from, c.at)
      this.image.update(piece)
      if (!this.op.update(piece).digest().equals(c.sha256)) this.failed ??= { op: c.op, targetOffset: c.targetOffset }
      this.op = createHash('sha256')
      from = c.at
    }
    const rest = buf.subarray(from, len)
    this.image.update(rest)
    if (!imageOnly) this.op.update(rest)
  }

  async hashSource(buf: Buffer, len: number): Promise<void> {
    this.source.update(buf.subarray(0, len))
  }

  async sourceDigest(): Promise<Buffer> {
    return this.source.digest()
  }

  async prefix(): Promise<string> {
    return this.image.copy().digest('hex')
  }

  async digest(): Promise<Buffer> {
    return this.image.digest()
  }

  async close(): Promise<void> {}
}

/**
 * The worker's whole program: plain JavaScript run with `eval`, so the agent's one-file
 * bundle needs no second file. It reads chunks from shared memory (no copy) and answers
 * every request in the order it came, so replies need no ids. The thread also runs the
 * decode worker's program (decode-worker.ts), idle unless a DecodeWorker is put on it:
 * each program takes only its own messages.
 */
const WORKER_SOURCE = `{
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const bufs = []
const image = createHash('sha256')
const source = createHash('sha256')
let op = createHash('sha256')
let failed = false
parentPort.on('message', (m) => {
  if (m.t === 'buf') return void (bufs[m.i] = Buffer.from(m.sab))
  if (m.t === 'hash') {
    const b = bufs[m.i]
    let from = 0
    for (const c of m.cuts) {
      const piece = b.subarray(from, c.at)
      image.update(piece)
      const d = op.update(piece).digest()
      op = createHash('sha256')
      if (!failed && d.toString('hex') !== c.sha256) {
        failed = true
        parentPort.postMessage({ t: 'failed', op: c.op, targetOffset: c.targetOffset })
      }
      from = c.at
    }
    const rest = b.subarray(from, m.len)
    image.update(rest)
    if (!m.imageOnly) op.update(rest)
    return void parentPort.postMessage({ t: 'done' })
  }
  if (m.t === 'source') {
    source.update(bufs[m.i].subarray(0, m.len))
    return void parentPort.postMessage({ t: 'done' })
  }
  if (m.t === 'sourceDigest') return void parentPort.postMessage({ t: 'done', digest: source.digest() })
  if (m.t === 'prefix') return void parentPort.postMessage({ t: 'done', hex: image.copy().digest('hex') })
  if (m.t === 'digest') return void parentPort.postMessage({ t: 'done', digest: image.digest() })
})
}
${DECODE_PROGRAM}`

type Reply = { t: 'done'; hex?: string; digest?: Uint8Array } | { t: 'failed'; op: number; targetOffset: number }

/** The hashing on a worker thread: hash() returns at once and resolves when the worker is done with the chunk. */
export class WorkerHasher implements ImageHasher {
  private readonly buffers = new Map<ArrayBufferLike, number>()
  private readonly waiting: Array<{ resolve: (r: Reply & { t: 'done' }) => void; reject: (e: unknown) => void }> = []
  private broken: unknown
  failed: OpHashFailure | undefined
  readonly threaded = true

  get thread(): Worker {
    return this.worker
  }

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      if (m.t === 'failed') this.failed ??= { op: m.op, targetOffset: m.targetOffset }
      else if (m.t === 'done') this.waiting.shift()?.resolve(m)
    })
    const fail = (e: unknown) => {
      this.broken ??= e
      for (const w of this.waiting.splice(0)) w.reject(e)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)))
  }

  static async start(): Promise<WorkerHasher> {
    // a small heap: the worker keeps two hash states and views of the shared chunks
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } })
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve)
      worker.once('error', reject)
    })
    return new WorkerHasher(worker)
  }

  alloc(size: number): Buffer {
    const sab = new SharedArrayBuffer(size)
    const i = this.buffers.size
    this.buffers.set(sab, i)
    this.worker.postMessage({ t: 'buf', i, sab })
    return Buffer.from(sab)
  }

  hash(buf: Buffer, len: number, cuts: readonly OpCut[], imageOnly = false): Promise<void> {
    const i = this.index(buf)
    // hex, not the Buffer: a clone of a view copies the whole (pooled) buffer behind it
    const sent = cuts.map((c) => ({ at: c.at, op: c.op, targetOffset: c.targetOffset, sha256: c.sha256.toString('hex') }))
    return this.request({ t: 'hash', i, len, cuts: sent, imageOnly }).then(() => {})
  }

  hashSource(buf: Buffer, len: number): Promise<void> {
    return this.request({ t: 'source', i: this.index(buf), len }).then(() => {})
  }

  async sourceDigest(): Promise<Buffer> {
    return Buffer.from((await this.request({ t: 'sourceDigest' })).digest!)
  }

  async prefix(): Promise<string> {
    return (await this.request({ t: 'prefix' })).hex!
  }

  async digest(): Promise<Buffer> {
    return Buffer.from((await this.request({ t: 'digest' })).digest!)
  }


  async close(): Promise<void> {
    this.broken ??= new Error('hash worker closed')
    this.worker.removeAllListeners('exit')
    for (const w of this.waiting.splice(0)) w.reject(this.broken)
    await this.worker.terminate()
  }

  private index(buf: Buffer): number {
    const i = this.buffers.get(buf.buffer)
    if (i === undefined || buf.byteOffset !== 0) throw new Error('the worker hashes only buffers from alloc()')
    return i
  }

  private request(msg: object): Promise<Reply & { t: 'done' }> {
    if (this.broken) return Promise.reject(this.broken)
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.worker.postMessage(msg)
    })
  }
}

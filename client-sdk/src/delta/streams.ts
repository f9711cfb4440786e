import { DeltaError } from './errors.js'
import type { ImageHasher, OpCut } from './image-hasher.js'

/** Random-access source image: a file or a block device (the inactive slot's peer). */
export interface SourceReader {
  /** bytes available; a partition may be larger than the image it holds */
  readonly size: number
  /** reads buf.length bytes at position; returns how many were read */
  read(buf: Buffer, position: number): Promise<number>
}

/** Where the target goes: written strictly in increasing offsets, never read except on resume. */
export interface TargetSink {
  /** the buffer is reused once the promise settles: copy it if you keep it */
  write(buf: Buffer, position: number): Promise<void>
  /** reads back the written prefix when resuming; a sink without it cannot resume */
  read?(buf: Buffer, position: number): Promise<number>
  /** makes written bytes durable before progress is recorded */
  sync?(): Promise<void>
}

/** 1 MiB: large enough for sequential I/O speed, small against the 64 MB budget. */
export const IO_CHUNK = 1 << 20

export async function readExactly(src: SourceReader, buf: Buffer, position: number): Promise<void> {
  let at = 0
  while (at < buf.length) {
    const n = await src.read(at === 0 ? buf : buf.subarray(at), position + at)
    if (n === 0) throw new DeltaError('DELTA_SOURCE_MISMATCH', 'source image is shorter than the patch expects', { position })
    at += n
  }
}

/** op ends one chunk may carry (see TargetWriter.endOp) */
export const MAX_CUTS = 1024

/**
 * Bytes per write and per hash hand-over: big enough that the per-chunk costs vanish
 * (a message to the hash worker, a write system call), small because each one in flight
 * is memory the device pays for (1 MiB ones cost 2 MB more than these, for no speed).
 */
export const WRITE_CHUNK = 512 * 1024

/**
 * Chunks in flight at once (written and hashed): the next chunk is filled while the kernel
 * copies the previous ones and the hash worker catches up. Three were enough while the
 * hashing ran in this thread; the worker falls behind in bursts (a long COPY op fills a
 * chunk in microseconds), and with three the decoding waited for it (OS pair: 1.9–2.0 s
 * with three, 1.6–1.8 s with five; eight gained nothing more).
 */
const WRITES_IN_FLIGHT = 3

/**
 * Coalesces the many small pieces an op emits (bsdiff extra runs can be a few bytes)
 * into 1 MiB sequential writes, hands each chunk to the image hasher (which checks every
 * op's bytes and hashes the image, on a worker thread where there is one) and keeps a few
 * writes in flight, so that decoding overlaps the write system calls and the hashing
 * instead of waiting for each. Pieces are copied into a fixed pool of chunk buffers (the
 * hasher's, shared with its thread), so the caller may reuse its buffer at once; a chunk
 * is refilled only when both its write and its hashing are done.
 */
export class TargetWriter {
  private readonly free: Buffer[] = []
  private readonly inflight: Array<{ buf: Buffer; done: Promise<unknown> }> = []
  private buf: Buffer
  private fill = 0
  /** ops that end inside the current chunk, in order */
  private cuts: OpCut[] = []

  constructor(
    private readonly sink: TargetSink,
    private readonly hasher: ImageHasher,
    /** offset of the next byte to write (pending bytes not included) */
    public offset: number,
    /** false: only the image is hashed, endOp() checks nothing (the patch was verified whole) */
    private readonly opHashes = true,
  ) {
    for (let i = 0; i < WRITES_IN_FLIGHT; i++) this.free.push(hasher.alloc(WRITE_CHUNK))
    this.buf = hasher.alloc(WRITE_CHUNK)
  }

  async push(b: Buffer): Promise<void> {
    for (let at = 0; at < b.length; ) {
      const n = b.copy(this.buf, this.fill, at)
      this.fill += n
      at += n
      if (this.fill === WRITE_CHUNK) await this.submit()
    }
  }

  /**
   * The op whose bytes were pushed last ends here: its bytes must hash to `sha256`. A
   * chunk carries at most MAX_CUTS op ends, then goes out part-filled: a patch of many tiny
   * ops must not grow the list (and the message to the hash worker) with them.
   */
  async endOp(op: number, targetOffset: number, sha256: Buffer): Promise<void> {
    if (!this.opHashes) return
    this.cuts.push({ at: this.fill, op, targetOffset, sha256 })
    if (this.cuts.length >= MAX_CUTS) await this.submit()
  }

  private async submit(): Promise<void> {
    if (this.fill === 0 && this.cuts.length === 0) return
    const buf = this.buf
    const written = this.fill > 0 ? this.sink.write(buf.subarray(0, this.fill), this.offset) : Promise.resolve()
    const done = Promise.all([written, this.hasher.hash(buf, this.fill, this.cuts, !this.opHashes)])
    done.catch(() => {}) // awaited below or in flush(); this only avoids an unhandled rejection meanwhile
    this.inflight.push({ buf, done })
    this.offset += this.fill
    this.fill = 0
    this.cuts = []
    if (this.free.length === 0) await this.retireOldest()
    this.buf = this.free.pop()!
  }

  private async retireOldest(): Promise<void> {
    const w = this.inflight.shift()!
    try {
      await w.done
    } finally {
      this.free.push(w.buf)
    }
  }

  /** Writes and hashes everything pushed so far and waits for both: before a sync, a checkpoint or the end. */
  async flush(): Promise<void> {
    await this.submit()
    while (this.inflight.length > 0) await this.retireOldest()
  }

  /**
   * After a failure: hashes (without writing) what is pushed but not yet handed over, and
   * waits for the hasher, so that an op that failed its hash before the failure is known.
   */
  async settle(): Promise<void> {
    if (this.fill > 0 || this.cuts.length > 0) await this.hasher.hash(this.buf, this.fill, this.cuts, !this.opHashes).catch(() => {})
    this.fill = 0
    this.cuts = []
    // each chunk's done waits for its hash reply: once all have settled, `failed` is final
    await Promise.allSettled(this.inflight.map((w) => w.done))
  }

  /** the pending-inclusive offset: where the next pushed byte lands */
  get position(): number {
    return this.offset + this.fill
  }
}

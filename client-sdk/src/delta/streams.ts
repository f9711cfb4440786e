import { createHash, type Hash } from 'node:crypto'
import { DeltaError } from './errors.js'

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

/** Writes in flight at once: the next chunk is filled while the kernel copies the previous ones. */
const WRITES_IN_FLIGHT = 3

/**
 * Coalesces the many small pieces an op emits (bsdiff extra runs can be a few bytes)
 * into 1 MiB sequential writes, hashes every byte for the image (and for the op, when
 * the op's hash is checked), and keeps a few writes in flight so that decoding and
 * hashing overlap the write system calls instead of waiting for each. Pieces are copied
 * into a fixed pool of chunk buffers, so the caller may reuse its buffer at once.
 */
export class TargetWriter {
  private readonly free: Buffer[] = []
  private readonly inflight: Array<{ buf: Buffer; done: Promise<void> }> = []
  private buf: Buffer
  private fill = 0
  /** the op hash, or undefined while the current op's output is not hashed on its own */
  op: Hash | undefined

  constructor(
    private readonly sink: TargetSink,
    readonly image: Hash,
    /** offset of the next byte to write (pending bytes not included) */
    public offset: number,
  ) {
    for (let i = 0; i < WRITES_IN_FLIGHT; i++) this.free.push(Buffer.allocUnsafe(IO_CHUNK))
    this.buf = Buffer.allocUnsafe(IO_CHUNK)
  }

  async push(b: Buffer): Promise<void> {
    this.op?.update(b)
    this.image.update(b)
    for (let at = 0; at < b.length; ) {
      const n = b.copy(this.buf, this.fill, at)
      this.fill += n
      at += n
      if (this.fill === IO_CHUNK) await this.submit()
    }
  }

  private async submit(): Promise<void> {
    if (this.fill === 0) return
    const buf = this.buf
    const done = this.sink.write(buf.subarray(0, this.fill), this.offset)
    done.catch(() => {}) // awaited below or in drain(); this only avoids an unhandled rejection meanwhile
    this.inflight.push({ buf, done })
    this.offset += this.fill
    this.fill = 0
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

  /** Writes everything pushed so far and waits for it: before a sync, a checkpoint or the end. */
  async flush(): Promise<void> {
    await this.submit()
    while (this.inflight.length > 0) await this.retireOldest()
  }

  /** the pending-inclusive offset: where the next pushed byte lands */
  get position(): number {
    return this.offset + this.fill
  }
}

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

/**
 * Coalesces the many small pieces an op emits (bsdiff extra runs can be a few bytes)
 * into 1 MiB sequential writes, and hashes every byte once for the op and once for the image.
 */
export class TargetWriter {
  private readonly buf = Buffer.allocUnsafe(IO_CHUNK)
  private fill = 0
  op: Hash = createHash('sha256')

  constructor(
    private readonly sink: TargetSink,
    readonly image: Hash,
    /** offset of the next byte to write */
    public offset: number,
  ) {}

  async push(b: Buffer): Promise<void> {
    this.op.update(b)
    this.image.update(b)
    if (b.length >= IO_CHUNK) {
      await this.flush()
      await this.sink.write(b, this.offset)
      this.offset += b.length
      return
    }
    if (this.fill + b.length > IO_CHUNK) await this.flush()
    b.copy(this.buf, this.fill)
    this.fill += b.length
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return
    // no copy per flush: with 1 MiB of garbage per write, GC lagged and RSS grew ~40 MB
    await this.sink.write(this.buf.subarray(0, this.fill), this.offset)
    this.offset += this.fill
    this.fill = 0
  }

  /** the pending-inclusive offset: where the next pushed byte lands */
  get position(): number {
    return this.offset + this.fill
  }
}

/**
 * Serves small source reads from a few cached 256 KiB pages. A BSDIFF op stitched from
 * an ext4 image has thousands of short control entries close to each other; one async
 * read each made applying the OS pair 5× slower than reading it. 8 pages = 2 MiB.
 */
export class CachedSource implements SourceReader {
  private static readonly PAGE = 256 * 1024
  private readonly pages = new Map<number, Buffer>()
  /** the evicted page's memory, reused: fresh pages were garbage GC saw too late (+25 MB RSS) */
  private spare: Buffer | undefined

  constructor(private readonly inner: SourceReader) {}

  get size(): number {
    return this.inner.size
  }

  async read(buf: Buffer, position: number): Promise<number> {
    const P = CachedSource.PAGE
    if (buf.length >= P) return this.inner.read(buf, position)
    let done = 0
    while (done < buf.length) {
      const at = position + done
      const page = await this.page(Math.floor(at / P))
      const off = at % P
      if (off >= page.length) break
      const n = page.copy(buf, done, off, Math.min(page.length, off + buf.length - done))
      done += n
    }
    return done
  }

  private async page(index: number): Promise<Buffer> {
    const hit = this.pages.get(index)
    if (hit) {
      this.pages.delete(index) // re-insert: Map order is the LRU order
      this.pages.set(index, hit)
      return hit
    }
    const P = CachedSource.PAGE
    const start = index * P
    const full = this.spare ?? Buffer.allocUnsafe(P)
    this.spare = undefined
    const buf = full.subarray(0, Math.max(0, Math.min(P, this.inner.size - start)))
    let got = 0
    while (got < buf.length) {
      const n = await this.inner.read(buf.subarray(got), start + got)
      if (n === 0) break
      got += n
    }
    const page = buf.subarray(0, got)
    this.pages.set(index, page)
    if (this.pages.size > 8) {
      const oldest = this.pages.keys().next().value!
      const old = this.pages.get(oldest)!
      this.pages.delete(oldest)
      this.spare = Buffer.from(old.buffer, old.byteOffset, P)
    }
    return page
  }
}

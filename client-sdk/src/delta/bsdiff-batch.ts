import type { BrotliReader } from './brotli-reader.js'
import { DeltaError } from './errors.js'

/**
 * The parts of a BSDIFF op's apply that OpRunner runs batch by batch: the control
 * entries of one batch, the varints they are decoded from, and the merged source reads
 * that gather a batch's source bytes.
 */

/** merged source reads in flight at once (libuv runs 4 file operations at a time) */
const SPANS = 4

/** pieces of source at most this far apart are read together */
const GAP = 64 * 1024
/** the longest merged read */
const SPAN = 256 * 1024

/** Control entries of one batch, in three typed arrays that live as long as the runner. */
export class Batch {
  static readonly MAX = 16384
  private readonly xs = new Float64Array(Batch.MAX)
  private readonly ys = new Float64Array(Batch.MAX)
  private readonly at = new Float64Array(Batch.MAX)
  length = 0

  push(x: number, y: number, oldpos: number): void {
    this.xs[this.length] = x
    this.ys[this.length] = y
    this.at[this.length++] = oldpos
  }

  x(i: number): number {
    return this.xs[i]!
  }

  y(i: number): number {
    return this.ys[i]!
  }

  oldpos(i: number): number {
    return this.at[i]!
  }

  clear(): void {
    this.length = 0
  }

  /** the last entry becomes the first of the next batch */
  keepLast(): void {
    const i = this.length - 1
    this.xs.copyWithin(0, i, i + 1)
    this.ys.copyWithin(0, i, i + 1)
    this.at.copyWithin(0, i, i + 1)
    this.length = 1
  }
}

/** LEB128 varints (DELTA-FORMAT.md) pulled from a streaming control decoder. */
export class VarintReader {
  private buf: Buffer = Buffer.alloc(0)
  private at = 0

  constructor(private readonly src: BrotliReader) {}

  /** the next value, or -1 when the stream ends before it starts or inside it */
  next(): number {
    let v = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.buf.length) {
        this.buf = this.src.read(64 * 1024)
        this.at = 0
        if (this.buf.length === 0) return -1
      }
      const byte = this.buf[this.at++]!
      v += (byte & 0x7f) * mul
      if (byte < 0x80) {
        if (!Number.isSafeInteger(v)) throw new DeltaError('DELTA_CORRUPT', 'control value out of range')
        return v
      }
      mul *= 0x80
    }
    throw new DeltaError('DELTA_CORRUPT', 'control varint too long')
  }

  expectEnd(): void {
    if (this.at < this.buf.length) throw new DeltaError('DELTA_CORRUPT', 'control stream has trailing bytes')
    this.src.expectEnd()
  }
}

/** The source reads of a batch, merged, through SPANS buffers that live as long as the runner. */
export class SourceGather {
  private readonly spans = Array.from({ length: SPANS }, () => Buffer.allocUnsafe(SPAN))

  /**
   * Reads the source bytes of the first `count` entries of `batch` into `scratch`, each entry's x bytes after the previous one's. Pieces are visited in source
   * order; pieces less than GAP apart share one read into a span buffer (the gap is read
   * and dropped), a lone piece is read straight into place. Up to SPANS reads run at once.
   */
  async gather(batch: Batch, count: number, read: (buf: Buffer, at: number) => Promise<void>, scratch: Buffer): Promise<void> {
    const pieces: Array<{ at: number; x: number; off: number }> = []
    for (let i = 0, off = 0; i < count; off += batch.x(i), i++) if (batch.x(i) > 0) pieces.push({ at: batch.oldpos(i), x: batch.x(i), off })
    pieces.sort((a, b) => a.at - b.at)
    const reads: Array<typeof pieces> = []
    for (let i = 0; i < pieces.length; ) {
      const group = [pieces[i]!]
      let end = pieces[i]!.at + pieces[i]!.x
      const start = pieces[i]!.at
      for (i++; i < pieces.length; i++) {
        const p = pieces[i]!
        const to = Math.max(end, p.at + p.x)
        if (p.at - end > GAP || to - start > SPAN) break
        group.push(p)
        end = to
      }
      reads.push(group)
    }
    let nextRead = 0
    const worker = async (span: Buffer) => {
      while (nextRead < reads.length) {
        const group = reads[nextRead++]!
        const first = group[0]!
        if (group.length === 1) {
          await read(scratch.subarray(first.off, first.off + first.x), first.at)
          continue
        }
        const end = Math.max(...group.map((p) => p.at + p.x))
        const buf = span.subarray(0, end - first.at)
        await read(buf, first.at)
        for (const p of group) buf.copy(scratch, p.off, p.at - first.at, p.at - first.at + p.x)
      }
    }
    await Promise.all(this.spans.map(worker))
  }
}

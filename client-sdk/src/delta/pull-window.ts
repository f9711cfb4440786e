/**
 * A stream read window by window (member codec 3, spool.ts): puff.ts and huff.ts parse a
 * member of up to hundreds of MiB through one small buffer instead of holding it whole.
 * Reads are synchronous, from a spool file: the parsers are tight synchronous loops, and
 * a page-cache read of 256 KiB costs less than an await.
 */
export interface ByteSource {
  /** length of the whole stream */
  readonly total: number
  /** fills `buf` with the stream's bytes from `at` (all of them: buf never reaches past total) */
  fill(buf: Uint8Array, at: number): void
}

/** window size: more than a stored block (65,535 + 4 bytes) and the longest literal run spooled puffs use */
export const WINDOW = 256 * 1024

/**
 * `buf[0, len)` holds the stream's bytes `[base, base + len)`; it starts empty. slide(from)
 * drops what lies before `from` (keeping `keep` bytes before it, for a parser that gives
 * back bytes it had taken into its bit buffer) and reads on, up to a full window or the
 * stream's end; it returns where `from` moved. Parsers slide only while `more`.
 */
export class PullWindow {
  readonly buf = new Uint8Array(WINDOW)
  len = 0
  base = 0

  constructor(readonly src: ByteSource) {}

  /** more of the stream can be read */
  get more(): boolean {
    return this.base + this.len < this.src.total
  }

  slide(from: number, keep = 0): number {
    const start = Math.max(0, Math.min(from, this.len) - keep)
    this.buf.copyWithin(0, start, this.len)
    this.base += start
    const kept = this.len - start
    // base + len ≤ total always, so n ≥ 0 (and ≥ 1 while `more`)
    const n = Math.min(WINDOW - kept, this.src.total - this.base - kept)
    this.src.fill(this.buf.subarray(kept, kept + n), this.base + kept)
    this.len = kept + n
    return from - start
  }
}

import { SortScratch, suffixArray } from './suffix-array.js'

/** A suffix-sorted source range: bytes source[start, start + bytes.length) and their suffix array. */
export interface SortedRange {
  start: number
  bytes: Buffer
  sa: Int32Array
}

/**
 * Suffix-sorted source ranges, kept while they fit `maxBytes` (5 bytes per source byte:
 * the bytes and their Int32 suffix array, plus the one spare array kept for reuse), least
 * recently used dropped first. A request
 * that lies inside a kept range is answered by it: the whole-window bsdiff and the
 * per-stretch ones of a window, and often the next window, point into the same source
 * region, which used to be sorted again for each of them.
 */
export class SourceSorter {
  private readonly kept: SortedRange[] = []
  /** suffix arrays of dropped ranges, reused: fresh memory is slow to touch here */
  private spare: Int32Array[] = []
  readonly scratch = new SortScratch()
  sortedBytes = 0
  hits = 0

  constructor(
    private readonly read: (position: number, length: number) => Promise<Buffer>,
    private readonly maxBytes: number,
  ) {}

  /** a kept range holding [from, to), if any */
  find(from: number, to: number): SortedRange | undefined {
    const i = this.kept.findIndex((r) => r.start <= from && r.start + r.bytes.length >= to)
    if (i < 0) return undefined
    const [r] = this.kept.splice(i, 1)
    this.kept.push(r!) // most recently used last
    return r
  }

  /**
   * the sorted range holding [from, to), and whether it was sorted for this call;
   * `read` is source[from, to) when the caller has it already (it is kept, not copied)
   */
  async get(from: number, to: number, read?: Buffer): Promise<[SortedRange, boolean]> {
    const hit = this.find(from, to)
    if (hit) {
      this.hits++
      return [hit, false]
    }
    const bytes = read && read.length === to - from ? read : await this.read(from, to - from)
    const again = this.find(from, to) // another job may have sorted it while this one read
    if (again) {
      this.hits++
      return [again, false]
    }
    const n = bytes.length
    while (this.kept.length > 0 && this.usedBytes() + 5 * n > this.maxBytes) {
      const { sa } = this.kept.shift()!
      this.spare.push(new Int32Array(sa.buffer, 0, sa.buffer.byteLength >> 2))
    }
    const i = this.spare.findIndex((s) => s.length >= n)
    const out = i >= 0 ? this.spare.splice(i, 1)[0] : undefined
    // one spare at most, the largest, and only while it fits `maxBytes` beside the kept
    // ranges: spares outside the count (two of ~45 MB) were ~90 MB per worker on the OS pair
    this.spare = this.spare.sort((a, b) => b.length - a.length).slice(0, 1) // the rest go to the GC
    if (this.spare.length > 0 && this.usedBytes() + 5 * n + 4 * this.spare[0]!.length > this.maxBytes) this.spare = []
    const range = { start: from, bytes, sa: suffixArray(bytes, this.scratch, out) }
    this.sortedBytes += n
    if (5 * n <= this.maxBytes) this.kept.push(range)
    return [range, true]
  }

  private usedBytes(): number {
    let n = 0
    for (const r of this.kept) n += 5 * r.bytes.length
    return n
  }
}

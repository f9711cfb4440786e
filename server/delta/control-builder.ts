/**
 * Accumulates a BSDIFF op's control, diff and extra streams from pieces in target order:
 * exact matches (diff of zeros), aligned diffs, bsdiff-node output and literal runs.
 * Source positions are absolute here; the op stores them relative to `base`, the start
 * of its source extent. Adjacent entries are merged so the control stays short.
 */
export class ControlBuilder {
  readonly entries: Array<[number, number, number]> = []
  private readonly diffs: Buffer[] = []
  private readonly extras: Buffer[] = []
  private oldpos: number
  /** lowest and highest source byte any diff reads, for the op's source extent */
  low = Infinity
  high = -Infinity

  constructor(readonly base: number) {
    this.oldpos = base
  }

  /** outputs source[src, src + diff.length) + diff, byte-wise mod 256 */
  diff(src: number, diff: Buffer): void {
    if (diff.length === 0) return
    this.seek(src)
    const last = this.entries.at(-1)
    if (last && last[1] === 0 && last[2] === 0) last[0] += diff.length
    else this.entries.push([diff.length, 0, 0])
    this.diffs.push(diff)
    this.oldpos += diff.length
    this.low = Math.min(this.low, src)
    this.high = Math.max(this.high, src + diff.length)
  }

  /** outputs bytes as they are */
  extra(bytes: Buffer): void {
    if (bytes.length === 0) return
    const last = this.entries.at(-1)
    if (last && last[2] === 0) last[1] += bytes.length
    else this.entries.push([0, bytes.length, 0])
    this.extras.push(bytes)
  }

  private seek(abs: number): void {
    const z = abs - this.oldpos
    if (z === 0) return
    const last = this.entries.at(-1)
    if (last) last[2] += z
    else this.entries.push([0, 0, z])
    this.oldpos = abs
  }

  get usesSource(): boolean {
    return this.diffs.length > 0
  }

  streams(): { diff: Buffer; extra: Buffer } {
    return { diff: Buffer.concat(this.diffs), extra: Buffer.concat(this.extras) }
  }
}

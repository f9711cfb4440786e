import { readSync } from 'node:fs'
import { BlockIndex, hashBlock, HASH_PRIME } from './block-index.js'

/**
 * target[t, t + len) equals source[s, s + len). A match with len 0 is a progress mark:
 * nothing matched before t, so the planner can hand that stretch on to the workers
 * instead of waiting for the end of a long changed region.
 */
export interface Match {
  t: number
  s: number
  len: number
}

const CHUNK = 8 << 20
const PIECE = 1 << 20

/**
 * Finds exact matches of target content in the source, in target order and without
 * overlap: a rolling hash finds a source block at any target offset, then the match is
 * grown byte-exactly backwards (to the previous match) and forwards as far as it goes,
 * so a match is not limited to block boundaries. Reads both files through descriptors;
 * holds one 8 MiB target chunk and a few 1 MiB pieces.
 */
export class Matcher {
  private readonly a = Buffer.allocUnsafe(PIECE)
  private readonly b = Buffer.allocUnsafe(PIECE)

  constructor(
    private readonly index: BlockIndex,
    private readonly srcFd: number,
    private readonly tgtFd: number,
    private readonly sourceSize: number,
    private readonly targetSize: number,
  ) {}

  *matches(): Generator<Match> {
    const B = this.index.blockSize
    const W = this.index.outWeight
    const index = this.index
    const filter = index.filter
    const fshift = index.filterShift
    const chunk = Buffer.allocUnsafe(CHUNK)
    const scratch = Buffer.allocUnsafe(B)
    let pos = 0
    let floor = 0
    let chunkStart = 0
    let chunkLen = 0
    while (pos + B <= this.targetSize) {
      // keep the loaded chunk while the next window still fits in it: matches are often
      // short (ext4 metadata), and reloading 8 MiB per match would dominate
      if (pos < chunkStart || pos + B > chunkStart + chunkLen) {
        chunkStart = pos
        chunkLen = readSync(this.tgtFd, chunk, 0, Math.min(CHUNK, this.targetSize - pos), pos)
      }
      const last = chunkLen - B
      let i = pos - chunkStart
      let h = hashBlock(chunk, i, B)
      let found = -1
      for (;;) {
        const f = Math.imul(h, 0x85ebca6b) >>> fshift
        const s = (filter[f >>> 5]! & (1 << (f & 31))) === 0 ? -1 : index.lookup(h)
        if (s >= 0 && readSync(this.srcFd, scratch, 0, B, s) === B && chunk.compare(scratch, 0, B, i, i + B) === 0) {
          found = s
          break
        }
        if (i >= last) break
        h = (Math.imul(h, HASH_PRIME) - Math.imul(chunk[i]!, W) + chunk[i + B]!) | 0
        i++
      }
      if (found < 0) {
        pos = floor = chunkStart + i + 1
        yield { t: pos, s: -1, len: 0 }
        continue
      }
      const t0 = chunkStart + i
      const back = this.extendBackward(t0, found, t0 - floor)
      const fwd = this.extendForward(t0 + B, found + B)
      yield { t: t0 - back, s: found - back, len: back + B + fwd }
      floor = pos = t0 + B + fwd
    }
  }

  /** how many bytes before (t, s) are equal, at most `limit` */
  private extendBackward(t: number, s: number, limit: number): number {
    let n = 0
    let piece = 4096 // most matches end soon: start small, double while they go on
    const max = Math.min(limit, s)
    while (n < max) {
      const k = Math.min(piece, max - n)
      piece = Math.min(PIECE, piece * 2)
      readSync(this.tgtFd, this.a, 0, k, t - n - k)
      readSync(this.srcFd, this.b, 0, k, s - n - k)
      if (this.a.compare(this.b, 0, k, 0, k) === 0) {
        n += k
        continue
      }
      let j = k - 1
      while (j >= 0 && this.a[j] === this.b[j]) j--
      return n + (k - 1 - j)
    }
    return n
  }

  /** how many bytes from (t, s) on are equal */
  extendForward(t: number, s: number): number {
    let n = 0
    let piece = 4096
    const max = Math.min(this.targetSize - t, this.sourceSize - s)
    while (n < max) {
      const k = Math.min(piece, max - n)
      piece = Math.min(PIECE, piece * 2)
      readSync(this.tgtFd, this.a, 0, k, t + n)
      readSync(this.srcFd, this.b, 0, k, s + n)
      if (this.a.compare(this.b, 0, k, 0, k) === 0) {
        n += k
        continue
      }
      let j = 0
      while (j < k && this.a[j] === this.b[j]) j++
      return n + j
    }
    return n
  }
}

import { readSync } from 'node:fs'

/**
 * Index of the source image by fixed-size blocks, looked up with a rolling hash over the
 * target at every byte offset (rsync's idea): content that moved or shifted by any
 * number of bytes (a GGUF whose header grew, a file ext4 placed elsewhere) is still found.
 *
 * Memory is two typed arrays of 2 × blocks entries (~16 bytes per source block), never
 * the source itself: 4 GiB at 1 KiB blocks is 64 MiB.
 */
export const HASH_PRIME = 0x01000193 // odd, so multiplication mod 2^32 is invertible

export class BlockIndex {
  // int32 keys and int32 hash arithmetic: V8 keeps them as small integers (a uint32
  // above 2^31 becomes a heap double and the per-byte scan loop slows down several times)
  private readonly keys: Int32Array
  /** block number + 1; 0 marks an empty slot */
  private readonly blocks: Uint32Array
  private readonly mask: number
  private readonly shift: number
  /** HASH_PRIME^blockSize mod 2^32: the weight of the byte leaving the rolling window */
  readonly outWeight: number
  /**
   * One bit per 16 slots' worth of hashes, 2 bytes per block: small enough to stay in
   * cache, so the per-byte scan of changed data rarely touches the big table (a miss
   * there per byte was 90% of scan time).
   */
  readonly filter: Int32Array
  readonly filterShift: number

  constructor(
    readonly blockSize: number,
    readonly sourceSize: number,
  ) {
    const n = Math.max(1, Math.floor(sourceSize / blockSize))
    const bits = Math.max(4, Math.ceil(Math.log2(n * 2)))
    this.keys = new Int32Array(2 ** bits)
    this.blocks = new Uint32Array(2 ** bits)
    this.mask = 2 ** bits - 1
    this.shift = 32 - bits
    const fbits = Math.max(10, Math.ceil(Math.log2(n)) + 4)
    this.filter = new Int32Array(2 ** (fbits - 5))
    this.filterShift = 32 - fbits
    let w = 1
    for (let i = 0; i < blockSize; i++) w = Math.imul(w, HASH_PRIME)
    this.outWeight = w | 0
  }

  /** Reads the source once, sequentially, hashing each whole block. */
  static build(fd: number, sourceSize: number, blockSize: number): BlockIndex {
    const index = new BlockIndex(blockSize, sourceSize)
    const chunk = Buffer.allocUnsafe(Math.max(blockSize, 4 << 20) - ((4 << 20) % blockSize))
    let block = 0
    for (let at = 0; at + blockSize <= sourceSize; ) {
      const want = Math.min(chunk.length, Math.floor((sourceSize - at) / blockSize) * blockSize)
      const got = readSync(fd, chunk, 0, want, at)
      if (got !== want) throw new Error('source changed size while indexing')
      for (let off = 0; off < got; off += blockSize) index.insert(hashBlock(chunk, off, blockSize), block++)
      at += got
    }
    return index
  }

  private slot(h: number): number {
    // the low bits of a polynomial hash are weak (they depend on low bits only): use the top ones
    return Math.imul(h, 0x9e3779b1) >>> this.shift
  }

  insert(h: number, block: number): void {
    const f = Math.imul(h, 0x85ebca6b) >>> this.filterShift
    this.filter[f >>> 5] = this.filter[f >>> 5]! | (1 << (f & 31))
    let s = this.slot(h)
    while (this.blocks[s] !== 0) {
      // keep the first block with this hash: repeats (zero blocks) add nothing
      if (this.keys[s] === h) return
      s = (s + 1) & this.mask
    }
    this.keys[s] = h
    this.blocks[s] = block + 1
  }

  /** Source offset of a block whose hash is h, or -1. Equal hashes still need a byte check. */
  lookup(h: number): number {
    let s = this.slot(h)
    for (;;) {
      const b = this.blocks[s]!
      if (b === 0) return -1
      if (this.keys[s] === h) return (b - 1) * this.blockSize
      s = (s + 1) & this.mask
    }
  }
}

export function hashBlock(buf: Uint8Array, off: number, len: number): number {
  let h = 0
  for (let i = off; i < off + len; i++) h = (Math.imul(h, HASH_PRIME) + buf[i]!) | 0
  return h
}

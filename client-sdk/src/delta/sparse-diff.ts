import type { BrotliReader } from './brotli-reader.js'
import type { ByteAdder } from './byte-add.js'
import { DeltaError } from './errors.js'
import { readVarint } from './format.js'

/**
 * Version 3's diff stream (DELTA-FORMAT.md "Sparse diff"): records `(zeros, n, n bytes)`,
 * two LEB128 varints then n literal diff bytes, meaning `zeros` zero diff bytes followed
 * by those n. On an ext4 image 98 % of bsdiff's diff bytes are zero (the dev OS pair: 341.7
 * of 348 MB); brotli wrote and decoded every one of them (0.5–0.8 s of the device's apply)
 * and the applier added them. Here a zero run is skipped: the source bytes already are
 * the output. The brotli'd stream is also 6 % smaller on that pair.
 */

/** a record's stream bytes per output byte are at most 3 (`0, 1, b`): the decoder's cap */
export const sparseStreamLimit = (diffBytes: number): number => 3 * diffBytes + 64

/**
 * Encodes a dense diff as records. Zero runs shorter than `minZeros` stay in the
 * literal bytes (each record costs two varints; a fine-tuned model's weight deltas are
 * full of lone zero bytes); a zero run that ends the diff is always a run.
 */
export function encodeSparseDiff(d: Uint8Array, minZeros: number): Buffer {
  const n = d.length
  const out = Buffer.allocUnsafe(sparseStreamLimit(n))
  let o = 0
  const put = (v: number) => {
    while (v >= 0x80) {
      out[o++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    out[o++] = v
  }
  const zerosAt = (k: number) => {
    let e = k
    while (e < n && d[e] === 0) e++
    return e - k
  }
  for (let i = 0; i < n; ) {
    let z = zerosAt(i)
    if (z < minZeros && i + z < n) z = 0
    const start = i + z
    let end = start
    while (end < n) {
      if (d[end] !== 0) {
        end++
        continue
      }
      const r = zerosAt(end)
      if (r >= minZeros || end + r === n) break
      end += r
    }
    put(z)
    put(end - start)
    out.set(d.subarray(start, end), o)
    o += end - start
    i = end
  }
  return out.subarray(0, o)
}

/**
 * The dense diff that sparse records spell (the builder's version-1 twin of a version-3
 * patch); more than `limit` bytes, a truncated record or an empty one is DELTA_CORRUPT.
 */
export function expandSparseDiff(records: Buffer, limit: number): Buffer {
  const parts: Array<Uint8Array | number> = []
  let total = 0
  for (let at = 0; at < records.length; ) {
    const z = readVarint(records, at, records.length)
    const n = z && readVarint(records, z[1], records.length)
    if (!z || !n) throw corrupt('diff record is truncated')
    at = n[1]
    if (z[0] + n[0] === 0) throw corrupt('empty diff record')
    if (n[0] > records.length - at) throw corrupt('diff literal is truncated')
    total += z[0] + n[0]
    if (total > limit) throw corrupt('diff stream holds more bytes than the op')
    parts.push(z[0], records.subarray(at, at + n[0]))
    at += n[0]
  }
  const out = Buffer.alloc(total)
  let o = 0
  for (const p of parts) o += typeof p === 'number' ? p : (out.set(p, o), p.length)
  return out
}

/**
 * Adds a sparse diff stream to source bytes, as the dense stream's `out[i] = old[i] +
 * diff[i]` would: literal bytes through the ByteAdder (the stream decodes into its wasm
 * memory), zero runs by leaving the bytes alone. The stream may split records anywhere
 * against control entries; it must hold exactly the diff bytes the control stream asks for.
 */
export class SparseDiff {
  private buf: Buffer = Buffer.alloc(0)
  private at = 0
  private zeros = 0
  private literal = 0

  constructor(
    private readonly src: BrotliReader,
    private readonly adder: ByteAdder,
  ) {}

  begin(): void {
    this.buf = Buffer.alloc(0)
    this.at = this.zeros = this.literal = 0
  }

  /** dst[i] += the next dst.length diff bytes */
  addTo(dst: Buffer): void {
    for (let i = 0; i < dst.length; ) {
      if (this.zeros > 0) {
        const k = Math.min(this.zeros, dst.length - i)
        this.zeros -= k
        i += k
      } else if (this.literal > 0) {
        if (this.at === this.buf.length && !this.fill()) throw corrupt('diff stream ends inside a literal')
        const k = Math.min(this.literal, dst.length - i, this.buf.length - this.at)
        this.adder.addAt(dst, i, this.buf, this.at, k)
        this.at += k
        this.literal -= k
        i += k
      } else {
        const zeros = this.varint()
        const literal = this.varint()
        if (zeros < 0 || literal < 0) throw corrupt('diff stream ends before its control says')
        if (zeros + literal === 0) throw corrupt('empty diff record')
        this.zeros = zeros
        this.literal = literal
      }
    }
  }

  /** the stream must end exactly where the op's diff bytes do */
  expectEnd(): void {
    if (this.zeros > 0 || this.literal > 0 || this.at < this.buf.length) throw corrupt('diff stream has trailing bytes')
    this.src.expectEnd()
  }

  private fill(): boolean {
    this.buf = this.src.read(1 << 30)
    this.at = 0
    return this.buf.length > 0
  }

  /** the next varint, or -1 when the stream ends before it starts or inside it */
  private varint(): number {
    let v = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (this.at === this.buf.length && !this.fill()) return -1
      const byte = this.buf[this.at++]!
      v += (byte & 0x7f) * mul
      if (byte < 0x80) {
        if (!Number.isSafeInteger(v)) throw corrupt('diff record value out of range')
        return v
      }
      mul *= 0x80
    }
    throw corrupt('diff record varint too long')
  }
}

const corrupt = (why: string) => new DeltaError('DELTA_CORRUPT', why, { stream: 'diff' })

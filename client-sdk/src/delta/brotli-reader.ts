import { brotliDecompressSync, constants, createBrotliDecompress } from 'node:zlib'
import { DeltaError } from './errors.js'

/** What node:zlib's native handle offers (lib/zlib.js drives it the same way in its *Sync functions). */
interface NativeHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void
  reset(): void
  onerror: (message: string, errno: number, code?: string) => void
}
type Decompressor = ReturnType<typeof createBrotliDecompress> & { _handle?: NativeHandle; _writeState?: Uint32Array }

/** The largest brotli window taken: 4 MiB (lgwin 22, what the builder wrote before 2026-12-05; it writes 20 now). */
export const MAX_WINDOW_BITS = 22

/**
 * The window a brotli stream declares, from its first byte (RFC 7932, 9.1: WBITS). The
 * reserved code for large windows reads as 9 here; node's decoder refuses such streams.
 */
export function windowBits(first: number): number {
  if ((first & 1) === 0) return 16
  const n = (first >> 1) & 7
  if (n !== 0) return 17 + n
  const m = (first >> 4) & 7
  return m === 0 ? 17 : 8 + m
}

/**
 * Refuses a stream whose window is past what any builder of ours wrote: a decoder holds a
 * ring buffer of the stream's window, and a hostile patch must not make the applier's
 * decoders take 16 MiB each.
 */
export function checkWindow(input: Buffer, what: string): void {
  if (input.length === 0) return
  const bits = windowBits(input[0]!)
  if (bits > MAX_WINDOW_BITS) {
    throw new DeltaError('DELTA_SIZE_LIMIT', `${what} stream declares a ${2 ** bits}-byte window, over the ${2 ** MAX_WINDOW_BITS} this applier takes`, {
      stream: what,
      windowBits: bits,
      limit: MAX_WINDOW_BITS,
    })
  }
}

/**
 * Pulls decoded bytes out of one in-memory brotli stream at a time, into ONE output
 * buffer that lives as long as the reader. node:zlib's public API returns a fresh
 * buffer per call (per op, up to 4 MiB each); V8 frees those only after ~64 MB of
 * external garbage, which was the applier's whole memory budget and why it had to force
 * full GCs. Driving the native handle with our own buffers, as lib/zlib.js does
 * internally, allocates nothing per op; the decoder's own ring buffer (≤ 1 MiB at the
 * builder's lgwin 20) is malloc'd and freed by brotli on reset, outside V8's heap.
 *
 * Where the handle is not there (a future Node), it falls back to brotliDecompressSync
 * with a capped output: same results, more garbage.
 */
export class BrotliReader {
  private z: Decompressor | undefined
  private error: string | undefined
  private input: Buffer = Buffer.alloc(0)
  private inOff = 0
  private start = 0
  private end = 0
  private ended = true
  private produced = 0
  private max = 0
  private what = ''
  private whole: Buffer | undefined

  /** @param out reused for every stream; its size is the largest piece `read` returns */
  constructor(private readonly out: Buffer) {}

  /** Starts decoding `input`, one complete brotli stream that may decode to at most `max` bytes. */
  begin(input: Buffer, max: number, what: string): void {
    this.input = input
    this.inOff = 0
    this.start = this.end = 0
    this.produced = 0
    this.max = max
    this.what = what
    this.whole = undefined
    // an empty stream needs no bytes; brotli never writes 0 bytes for one
    this.ended = input.length === 0
    if (this.ended) return
    checkWindow(input, what)
    const z = this.decoder()
    if (!z) {
      this.whole = this.decodeWhole()
      return
    }
    z._handle!.reset()
  }

  /** The next up to `n` decoded bytes, valid until the next call; empty only at the end of the stream. */
  read(n: number): Buffer {
    if (this.whole) {
      const piece = this.whole.subarray(this.start, this.start + n)
      this.start += piece.length
      return piece
    }
    if (this.start === this.end) this.decodeMore()
    const k = Math.min(n, this.end - this.start)
    const piece = this.out.subarray(this.start, this.start + k)
    this.start += k
    return piece
  }

  /** Fails unless the stream has no bytes left: an op must consume each of its streams exactly. */
  expectEnd(): void {
    if (this.read(1).length !== 0) throw new DeltaError('DELTA_CORRUPT', `${this.what} stream has trailing bytes`, { stream: this.what })
  }

  close(): void {
    this.z?.close()
    this.z = undefined
  }

  private decoder(): Decompressor | undefined {
    if (this.z) return this.z
    const z = createBrotliDecompress() as Decompressor
    const h = z._handle
    if (!h || typeof h.writeSync !== 'function' || typeof h.reset !== 'function' || !(z._writeState instanceof Uint32Array)) {
      z.close()
      return undefined
    }
    // the handle reports errors through this callback, synchronously inside writeSync
    h.onerror = (message, _errno, code) => (this.error = `${message}${code ? ` (${code})` : ''}`)
    this.z = z
    return z
  }

  private decodeMore(): void {
    this.start = this.end = 0
    if (this.ended) return
    const z = this.z!
    const inLen = this.input.length - this.inOff
    // FINISH: all input is here, so a stream that still wants more is truncated (an error, not a wait)
    z._handle!.writeSync(constants.BROTLI_OPERATION_FINISH, this.input, this.inOff, inLen, this.out, 0, this.out.length)
    if (this.error !== undefined) {
      const why = this.error
      this.error = undefined
      this.close() // a failed decoder is not reused
      throw new DeltaError('DELTA_CORRUPT', `bad ${this.what} stream in op payload: ${why}`, { stream: this.what })
    }
    const [availOut, availIn] = z._writeState! as unknown as [number, number]
    this.inOff = this.input.length - availIn
    this.end = this.out.length - availOut
    this.produced += this.end
    if (this.produced > this.max) {
      throw new DeltaError('DELTA_CORRUPT', `${this.what} stream decodes to more than the op allows`, { stream: this.what, limit: this.max })
    }
    // room left in the output means the decoder finished (with FINISH it errs otherwise)
    if (availOut > 0) {
      this.ended = true
      if (availIn > 0) throw new DeltaError('DELTA_CORRUPT', `${this.what} stream has bytes after its end`, { stream: this.what })
    }
  }

  private decodeWhole(): Buffer {
    try {
      // maxOutputLength turns a decompression bomb into an error instead of an allocation
      return brotliDecompressSync(this.input, { maxOutputLength: Math.max(1, this.max) })
    } catch (e) {
      throw new DeltaError('DELTA_CORRUPT', `bad or oversized ${this.what} stream in op payload`, { stream: this.what }, { cause: e })
    }
  }
}

import { CL_ORDER, CodeKind, decodeTable, DIST_BASE, DIST_EXTRA, FIXED_LENGTHS, LEN_BASE, LEN_EXTRA } from './deflate-codes.js'
import { DeltaError } from './errors.js'
import { PullWindow, WINDOW, type ByteSource } from './pull-window.js'

/**
 * Deflate → puff (member codec 2, after Android's puffin). A puff is a lossless,
 * diff-friendly spelling of one raw deflate stream: every block's type and Huffman
 * header exactly as sent, literal runs as the plain bytes they decode to, matches as
 * (distance, length), and the padding bits. huff.ts writes it back bit for bit, with no
 * encoder choice involved: the bits a deflate stream holds are a function of its puff.
 * Layout: client-sdk/DELTA-FORMAT.md "Puff layout".
 *
 * Tags of the token stream (after a fixed or dynamic block's header):
 */
export const PUFF_END_OF_BLOCK = 0x00
/** 0x01–0x7e: a literal run of that many bytes, which follow */
export const PUFF_MAX_SHORT_RUN = 0x7e
/** 0x7f: a LEB128 varint n, then n + 127 literal bytes */
export const PUFF_LONG_RUN = 0x7f
/** 0x80–0xff: a match: distance − 1 = (tag & 0x7f) << 8 | next byte; length − 3 = the byte after */
export const PUFF_MATCH = 0x80

const FIXED_LIT = decodeTable(FIXED_LENGTHS, 0, 288, CodeKind.LENS, 'fixed code')
const FIXED_DIST = decodeTable(FIXED_LENGTHS, 288, 32, CodeKind.DISTS, 'fixed code')

const corrupt = (message: string, details?: Record<string, unknown>) => new DeltaError('DELTA_CORRUPT', `deflate member: ${message}`, details)

/**
 * A growable output that never grows past `cap` + SLACK: more is a codec bomb. A
 * reservation may exceed what is then written by a few bytes (a varint's room), so the
 * slack keeps an exact-size puff from being refused; `end` checks the real length.
 */
const SLACK = 16
class Out {
  buf: Uint8Array
  n = 0
  /** bytes handed to the sink (spooled puffs): the buffer is reused after each hand-over */
  flushed = 0
  constructor(
    initial: number,
    readonly cap: number,
    private readonly sink?: (chunk: Uint8Array) => void,
  ) {
    this.buf = new Uint8Array(Math.max(64, Math.min(cap + SLACK, initial)))
  }
  room(k: number): void {
    if (this.n + k <= this.buf.length) return
    if (this.flushed + this.n + k > this.cap + SLACK) throw this.bomb()
    if (this.sink) {
      this.flush()
      if (k <= this.buf.length) return
    }
    const next = new Uint8Array(Math.min(this.cap + SLACK, Math.max(this.n + k, this.buf.length * 2)))
    next.set(this.buf.subarray(0, this.n))
    this.buf = next
  }
  flush(): void {
    if (this.n > 0) this.sink?.(this.buf.subarray(0, this.n))
    this.flushed += this.n
    this.n = 0
  }
  get total(): number {
    return this.flushed + this.n
  }
  byte(b: number): void {
    this.room(1)
    this.buf[this.n++] = b
  }
  bomb(): DeltaError {
    return new DeltaError('DELTA_CORRUPT', `deflate member puffs to more than its declared ${this.cap} bytes (codec bomb)`, { cap: this.cap })
  }
}

/**
 * Parses the raw deflate stream `input` (exactly: bytes after its final block are
 * refused) into its puff, at most `maxOut` bytes (else DELTA_CORRUPT, before allocating
 * more). Invalid deflate is DELTA_CORRUPT, as is what puff cannot spell (length 258 sent
 * as symbol 284; no encoder does that).
 */
export function puff(input: Uint8Array, maxOut: number): Buffer {
  const out = new Out(input.length * 3 + 64, maxOut)
  parse(input, undefined, out, Infinity)
  return Buffer.from(out.buf.buffer, out.buf.byteOffset, out.n)
}

/**
 * Literal runs of spooled puffs (member codec 3) are cut at this length, so that neither
 * side holds more of a run than this; the device and the builder cut the same way.
 */
export const SPOOL_MAX_RUN = 64 * 1024

/**
 * The same parse for member codec 3: the stream is read from `src` window by window and
 * the puff handed to `sink` 256 KiB at a time (each chunk is reused once sink returns),
 * literal runs cut at SPOOL_MAX_RUN. Returns the puff's length; the same errors as puff().
 */
export function puffStream(src: ByteSource, maxOut: number, sink: (chunk: Uint8Array) => void): number {
  const out = new Out(WINDOW, maxOut, sink)
  parse(new Uint8Array(0), new PullWindow(src), out, SPOOL_MAX_RUN)
  out.flush()
  return out.total
}

function parse(bytes: Uint8Array, win: PullWindow | undefined, out: Out, maxRun: number): void {
  const input = win ? win.buf : bytes
  let len = win ? win.len : bytes.length
  let pos = 0
  /** the next window, keeping `keep` bytes before pos; false at the stream's end */
  const slide = (keep: number) => {
    if (!win?.more) return false
    pos = win.slide(pos, keep)
    len = win.len
    return true
  }
  /** k bytes from pos are in the window (a stored block), else false */
  const ensure = (k: number) => pos + k <= len || (slide(0) && pos + k <= len)
  let bitbuf = 0
  let bitcnt = 0
  let produced = 0 // decoded bytes so far: a match may not reach before them
  let lits = new Uint8Array(4096)
  let nlits = 0

  /** ≥ 25 bits in bitbuf; past the end it shifts in zeros, and refuses once a zero is consumed */
  const refill = () => {
    while (bitcnt <= 24) {
      // a window ends: slide on, keeping the bytes the bit buffer holds (a stored block gives them back)
      if (pos >= len && !(pos === len && slide(8))) {
        if ((pos - len) * 8 > bitcnt) throw corrupt('stream is truncated')
        pos++
      } else bitbuf |= input[pos++]! << bitcnt
      bitcnt += 8
    }
  }
  const bits = (n: number) => {
    if (bitcnt < n) refill()
    const v = bitbuf & ((1 << n) - 1)
    bitbuf >>>= n
    bitcnt -= n
    return v
  }
  const checkInside = () => {
    if (pos * 8 - bitcnt > len * 8) throw corrupt('stream is truncated')
  }
  const flushLits = () => {
    if (nlits === 0) return
    if (nlits <= PUFF_MAX_SHORT_RUN) {
      out.room(1 + nlits)
      out.buf[out.n++] = nlits
    } else {
      out.room(6 + nlits)
      out.buf[out.n++] = PUFF_LONG_RUN
      let v = nlits - 127
      while (v >= 0x80) {
        out.buf[out.n++] = (v & 0x7f) | 0x80
        v >>>= 7
      }
      out.buf[out.n++] = v
    }
    out.buf.set(lits.subarray(0, nlits), out.n)
    out.n += nlits
    nlits = 0
  }

  const lengths = new Uint8Array(320)
  const clLengths = new Uint8Array(19)
  for (;;) {
    const head = bits(3)
    const final = head & 1
    const type = head >> 1
    if (type === 3) throw corrupt('invalid block type 3')
    out.byte(head)
    if (type === 0) {
      const n = bitcnt & 7
      out.byte(bits(n))
      // aligned now: read the stored block straight from the input
      pos -= bitcnt >> 3
      bitbuf = 0
      bitcnt = 0
      if (!ensure(4)) throw corrupt('stream is truncated')
      const blockLen = input[pos]! | (input[pos + 1]! << 8)
      const nlen = input[pos + 2]! | (input[pos + 3]! << 8)
      if (nlen !== (~blockLen & 0xffff)) throw corrupt('stored block length does not match its complement')
      pos += 4
      if (!ensure(blockLen)) throw corrupt('stream is truncated')
      out.room(2 + blockLen)
      out.buf[out.n++] = blockLen & 0xff
      out.buf[out.n++] = blockLen >> 8
      out.buf.set(input.subarray(pos, pos + blockLen), out.n)
      out.n += blockLen
      pos += blockLen
      produced += blockLen
    } else {
      let lit = FIXED_LIT
      let dist = FIXED_DIST
      if (type === 2) {
        const hlit = bits(5)
        const hdist = bits(5)
        const hclen = bits(4)
        if (hlit > 29 || hdist > 29) throw corrupt('too many length or distance symbols')
        out.room(3 + hclen + 4)
        out.buf[out.n++] = hlit
        out.buf[out.n++] = hdist
        out.buf[out.n++] = hclen
        clLengths.fill(0)
        for (let i = 0; i < hclen + 4; i++) out.buf[out.n++] = clLengths[CL_ORDER[i]!] = bits(3)
        const cl = decodeTable(clLengths, 0, 19, CodeKind.CODES, 'code-length code')
        const nlen = hlit + 257
        const total = nlen + hdist + 1
        lengths.fill(0)
        for (let i = 0; i < total; ) {
          if (bitcnt < 14) refill()
          const e = cl.table[bitbuf & cl.mask]!
          if (e === 0) throw corrupt('invalid code-length code')
          const l = e & 15
          bitbuf >>>= l
          bitcnt -= l
          const sym = e >>> 4
          out.room(2)
          out.buf[out.n++] = sym
          if (sym < 16) {
            lengths[i++] = sym
            continue
          }
          let rep: number
          let value = 0
          let x: number
          if (sym === 16) {
            if (i === 0) throw corrupt('length repeat with no previous length')
            value = lengths[i - 1]!
            x = bits(2)
            rep = 3 + x
          } else if (sym === 17) {
            x = bits(3)
            rep = 3 + x
          } else {
            x = bits(7)
            rep = 11 + x
          }
          out.buf[out.n++] = x
          if (i + rep > total) throw corrupt('code-length repeat runs past the code lengths')
          lengths.fill(value, i, i + rep)
          i += rep
        }
        if (lengths[256] === 0) throw corrupt('no end-of-block code')
        // the literal/length and distance lengths are one sequence; each code is built from its part
        lit = decodeTable(lengths, 0, nlen, CodeKind.LENS, 'literal/length code')
        dist = decodeTable(lengths, nlen, hdist + 1, CodeKind.DISTS, 'distance code')
      }
      const litTable = lit.table
      const litMask = lit.mask
      const distTable = dist.table
      const distMask = dist.mask
      for (;;) {
        if (bitcnt < 20) refill()
        const e = litTable[bitbuf & litMask]!
        if (e === 0) throw corrupt('invalid literal/length code')
        const l = e & 15
        bitbuf >>>= l
        bitcnt -= l
        const sym = e >>> 4
        if (sym < 256) {
          if (nlits === maxRun) flushLits()
          else if (nlits === lits.length) {
            const next = new Uint8Array(lits.length * 2)
            next.set(lits)
            lits = next
          }
          lits[nlits++] = sym
          produced++
          continue
        }
        if (sym === 256) break
        const ls = sym - 257
        if (ls >= 29) throw corrupt('invalid length symbol', { symbol: sym })
        const le = LEN_EXTRA[ls]!
        const lx = bitbuf & ((1 << le) - 1)
        bitbuf >>>= le
        bitcnt -= le
        const length = LEN_BASE[ls]! + lx
        if (length > 258) throw corrupt('length 258 sent as symbol 284 (puff cannot spell it)')
        if (bitcnt < 15) refill()
        const de = distTable[bitbuf & distMask]!
        if (de === 0) throw corrupt('invalid distance code')
        const dlen = de & 15
        bitbuf >>>= dlen
        bitcnt -= dlen
        const ds = de >>> 4
        if (ds >= 30) throw corrupt('invalid distance symbol', { symbol: ds })
        const distance = DIST_BASE[ds]! + bits(DIST_EXTRA[ds]!)
        if (distance > produced) throw corrupt('distance too far back', { distance, produced })
        flushLits()
        out.room(3)
        out.buf[out.n++] = PUFF_MATCH | ((distance - 1) >> 8)
        out.buf[out.n++] = (distance - 1) & 0xff
        out.buf[out.n++] = length - 3
        produced += length
      }
      checkInside()
      flushLits()
      out.byte(PUFF_END_OF_BLOCK)
    }
    if (final) break
  }
  checkInside()
  // the final block's end: the rest of its byte is padding, recorded as it is
  const n = bitcnt & 7
  out.byte(bitbuf & ((1 << n) - 1))
  const consumed = (win?.base ?? 0) + pos - ((bitcnt - n) >> 3)
  const total = win?.src.total ?? len
  if (consumed !== total) throw corrupt('bytes after the final block', { consumed, length: total })
  if (out.total > out.cap) throw out.bomb()
}

import { canonical, CL_ORDER, CodeKind, DIST_BASE, DIST_EXTRA, DIST_SYMBOL, FIXED_LENGTHS, LEN_BASE, LEN_EXTRA, LEN_SYMBOL } from './deflate-codes.js'
import { DeltaError } from './errors.js'
import { PUFF_END_OF_BLOCK, PUFF_LONG_RUN, PUFF_MATCH } from './puff.js'
import { PullWindow, WINDOW, type ByteSource } from './pull-window.js'

/**
 * Puff → deflate (member codec 2): writes the deflate stream a puff spells (puff.ts),
 * bit for bit. A malformed puff (a field out of range, a symbol its block's code has no
 * code for, a match reaching before the start, bytes missing or left over) is
 * DELTA_CORRUPT; output past `maxOut` bytes is DELTA_MEMBER_MISMATCH (it cannot be the
 * recorded stream), found before writing past it.
 */

const FIXED_LIT = canonical(FIXED_LENGTHS, 0, 288, CodeKind.LENS, 'fixed code').codes
const FIXED_DIST = canonical(FIXED_LENGTHS, 288, 32, CodeKind.DISTS, 'fixed code').codes
const FIXED_LIT_LEN = FIXED_LENGTHS.subarray(0, 288)
const FIXED_DIST_LEN = FIXED_LENGTHS.subarray(288, 320)

const corrupt = (message: string, details?: Record<string, unknown>) => new DeltaError('DELTA_CORRUPT', `member puff: ${message}`, details)
const tooLong = (cap: number) =>
  new DeltaError('DELTA_MEMBER_MISMATCH', `the member's puff writes more than the recorded ${cap} bytes of deflate`, { expectedLength: cap })

export function huff(p: Uint8Array, maxOut: number): Buffer {
  // the cap is checked before each token (one writes at most 7 bytes: the slack) and for each stored block
  const out = Buffer.allocUnsafe(maxOut + 16)
  return out.subarray(0, write(p, undefined, out, maxOut))
}

/**
 * The same for member codec 3: the puff is read from `src` window by window and the
 * deflate bytes handed to `sink` about 256 KiB at a time (the chunk is reused once sink
 * returns). Returns the stream's length; the same errors as huff().
 */
export function huffStream(src: ByteSource, maxOut: number, sink: (chunk: Buffer) => void): number {
  return write(new Uint8Array(0), new PullWindow(src), Buffer.allocUnsafe(2 * WINDOW), maxOut, sink)
}

/** room kept at the end of a streamed output chunk: a stored block (65,539 bytes) and a token */
const HEADROOM = 70_000

function write(bytes: Uint8Array, win: PullWindow | undefined, out: Buffer, maxOut: number, sink?: (chunk: Buffer) => void): number {
  const p = win ? win.buf : bytes
  let plen = win ? win.len : bytes.length
  let o = 0
  /** bytes handed to the sink */
  let done = 0
  /** o past this: check the cap, and hand the chunk over (HEADROOM: what one step may write after the check) */
  let lim = sink ? Math.min(maxOut, out.length - HEADROOM) : maxOut
  let bitbuf = 0
  let bitcnt = 0
  let i = 0
  let produced = 0
  const spill = () => {
    if (done + o > maxOut) throw tooLong(maxOut)
    if (!sink || o === 0) return
    sink(out.subarray(0, o))
    done += o
    o = 0
    lim = Math.min(maxOut - done, out.length - HEADROOM)
  }
  /** the next window (false at the end of the puff) */
  const slide = () => {
    if (!win?.more) return false
    i = win.slide(i)
    plen = win.len
    return true
  }
  const put = (v: number, n: number) => {
    bitbuf |= v << bitcnt
    bitcnt += n
    while (bitcnt >= 8) {
      out[o++] = bitbuf & 0xff
      bitbuf >>>= 8
      bitcnt -= 8
    }
  }
  const next = () => {
    if (i >= plen && !slide()) throw corrupt('ends inside a block')
    return p[i++]!
  }
  const room = (k: number) => {
    if (done + o + k > maxOut) throw tooLong(maxOut)
    if (o > lim) spill()
  }
  const over = () => {
    if (o > lim) spill()
  }

  const lengths = new Uint8Array(320)
  const clLengths = new Uint8Array(19)
  for (;;) {
    const head = next()
    if (head > 5 || head >> 1 === 3) throw corrupt('invalid block header', { head })
    over()
    put(head, 3)
    const type = head >> 1
    if (type === 0) {
      const n = (8 - bitcnt) & 7
      const pad = next()
      if (pad >> n) throw corrupt('stored block padding does not fit its bits')
      put(pad, n)
      const blockLen = next() | (next() << 8)
      if (i + blockLen > plen && !(slide() && i + blockLen <= plen)) throw corrupt('ends inside a stored block')
      room(4 + blockLen)
      out[o++] = blockLen & 0xff
      out[o++] = blockLen >> 8
      out[o++] = ~blockLen & 0xff
      out[o++] = (~blockLen >> 8) & 0xff
      out.set(p.subarray(i, i + blockLen), o)
      o += blockLen
      i += blockLen
      produced += blockLen
    } else {
      let litCodes = FIXED_LIT
      let litLens = FIXED_LIT_LEN
      let distCodes = FIXED_DIST
      let distLens = FIXED_DIST_LEN
      if (type === 2) {
        const hlit = next()
        const hdist = next()
        const hclen = next()
        if (hlit > 29 || hdist > 29 || hclen > 15) throw corrupt('dynamic header field out of range', { hlit, hdist, hclen })
        over()
        put(hlit, 5)
        put(hdist, 5)
        put(hclen, 4)
        clLengths.fill(0)
        for (let k = 0; k < hclen + 4; k++) {
          const l = next()
          if (l > 7) throw corrupt('code-length code length out of range')
          clLengths[CL_ORDER[k]!] = l
          over()
          put(l, 3)
        }
        const cl = canonical(clLengths, 0, 19, CodeKind.CODES, 'member puff: code-length code')
        const nlen = hlit + 257
        const total = nlen + hdist + 1
        lengths.fill(0)
        for (let k = 0; k < total; ) {
          const sym = next()
          if (sym > 18 || clLengths[sym] === 0) throw corrupt('code-length symbol without a code', { symbol: sym })
          over()
          put(cl.codes[sym]!, clLengths[sym]!)
          if (sym < 16) {
            lengths[k++] = sym
            continue
          }
          const x = next()
          let rep: number
          let value = 0
          if (sym === 16) {
            if (x > 3 || k === 0) throw corrupt('invalid length repeat')
            value = lengths[k - 1]!
            put(x, 2)
            rep = 3 + x
          } else if (sym === 17) {
            if (x > 7) throw corrupt('invalid zero repeat')
            put(x, 3)
            rep = 3 + x
          } else {
            if (x > 127) throw corrupt('invalid zero repeat')
            put(x, 7)
            rep = 11 + x
          }
          if (k + rep > total) throw corrupt('code-length repeat runs past the code lengths')
          lengths.fill(value, k, k + rep)
          k += rep
        }
        if (lengths[256] === 0) throw corrupt('no end-of-block code')
        litCodes = canonical(lengths, 0, nlen, CodeKind.LENS, 'member puff: literal/length code').codes
        distCodes = canonical(lengths, nlen, hdist + 1, CodeKind.DISTS, 'member puff: distance code').codes
        litLens = lengths.slice(0, nlen)
        distLens = lengths.slice(nlen, total)
      }
      const nlit = litLens.length
      const ndist = distLens.length
      for (;;) {
        const tag = next()
        over()
        if (tag === PUFF_END_OF_BLOCK) {
          const l = litLens[256]!
          put(litCodes[256]!, l)
          break
        }
        if (tag < PUFF_MATCH) {
          let n = tag
          if (tag === PUFF_LONG_RUN) {
            let v = 0
            let shift = 0
            for (;;) {
              const b = next()
              v += (b & 0x7f) * 2 ** shift
              if (!(b & 0x80)) break
              shift += 7
              if (shift > 28) throw corrupt('literal run length out of range')
            }
            n = v + 127
          }
          // a run may go on in the next window (spooled puffs)
          for (let left = n; left > 0; ) {
            if (i >= plen && !slide()) throw corrupt('ends inside a literal run')
            const end = i + Math.min(left, plen - i)
            left -= end - i
            while (i < end) {
              const b = p[i++]!
              const l = litLens[b]!
              if (l === 0) throw corrupt('literal without a code', { literal: b })
              bitbuf |= litCodes[b]! << bitcnt
              bitcnt += l
              if (bitcnt >= 16) {
                out[o++] = bitbuf & 0xff
                out[o++] = (bitbuf >>> 8) & 0xff
                bitbuf >>>= 16
                bitcnt -= 16
                if (o > lim) spill()
              }
            }
          }
          while (bitcnt >= 8) {
            out[o++] = bitbuf & 0xff
            bitbuf >>>= 8
            bitcnt -= 8
          }
          produced += n
          continue
        }
        const distance = (((tag & 0x7f) << 8) | next()) + 1
        const length = next() + 3
        if (distance > produced) throw corrupt('match reaches before the start of the stream', { distance, produced })
        const ls = LEN_SYMBOL[length]!
        const ds = DIST_SYMBOL[distance]!
        if (257 + ls >= nlit || litLens[257 + ls] === 0 || ds >= ndist || distLens[ds] === 0) throw corrupt('match without a code', { length, distance })
        put(litCodes[257 + ls]!, litLens[257 + ls]!)
        put(length - LEN_BASE[ls]!, LEN_EXTRA[ls]!)
        put(distCodes[ds]!, distLens[ds]!)
        put(distance - DIST_BASE[ds]!, DIST_EXTRA[ds]!)
        produced += length
      }
    }
    if (head & 1) break
  }
  // the padding bits after the final block
  const n = (8 - bitcnt) & 7
  const pad = next()
  if (pad >> n) throw corrupt('final padding does not fit its bits')
  put(pad, n)
  if (done + o > maxOut) throw tooLong(maxOut)
  const left = (win ? win.src.total - win.base : plen) - i
  if (left !== 0) throw corrupt('bytes after the final block', { left })
  spill()
  return done + o
}

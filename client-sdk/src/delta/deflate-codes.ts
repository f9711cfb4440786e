import { DeltaError } from './errors.js'

/**
 * RFC 1951 tables and the canonical Huffman code rules shared by puff.ts (deflate →
 * puff) and huff.ts (puff → deflate). Both sides accept exactly the codes zlib's inflate
 * accepts (inftrees.c): no over-subscribed code; an incomplete code only for literal/length
 * or distance codes made of a single 1-bit code; the code-length code must be complete.
 */

/** length symbols 257–285: base length and extra bits */
export const LEN_BASE = Uint16Array.from([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258])
export const LEN_EXTRA = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0])
/** distance symbols 0–29 */
export const DIST_BASE = Uint16Array.from([
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
])
export const DIST_EXTRA = Uint8Array.from([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13])
/** the order in which a dynamic block header sends the code-length code's lengths */
export const CL_ORDER = Uint8Array.from([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15])

/** length 3–258 → length symbol index (0–28) */
export const LEN_SYMBOL = new Uint8Array(259)
/** distance 1–32768 → distance symbol */
export const DIST_SYMBOL = new Uint8Array(32769)
for (let s = 0; s < 29; s++) for (let l = LEN_BASE[s]!; l < LEN_BASE[s]! + (1 << LEN_EXTRA[s]!) && l <= 258; l++) LEN_SYMBOL[l] = s
LEN_SYMBOL[258] = 28 // 258 is symbol 285; 284 with extra 31 is not something puff represents
for (let s = 0; s < 30; s++) for (let d = DIST_BASE[s]!; d < DIST_BASE[s]! + (1 << DIST_EXTRA[s]!); d++) DIST_SYMBOL[d] = s

/** the fixed code's lengths (RFC 1951 3.2.6): 288 literal/length, then 32 distance */
export const FIXED_LENGTHS = new Uint8Array(320)
FIXED_LENGTHS.fill(8, 0, 144)
FIXED_LENGTHS.fill(9, 144, 256)
FIXED_LENGTHS.fill(7, 256, 280)
FIXED_LENGTHS.fill(8, 280, 288)
FIXED_LENGTHS.fill(5, 288, 320)

/** which code a length set is for: the code-length code, literal/length, distance */
export const CodeKind = { CODES: 0, LENS: 1, DISTS: 2 } as const
export type CodeKind = (typeof CodeKind)[keyof typeof CodeKind]

const corrupt = (what: string, message: string) => new DeltaError('DELTA_CORRUPT', `${what}: ${message}`)

function reverse(code: number, len: number): number {
  let r = 0
  for (let i = 0; i < len; i++) {
    r = (r << 1) | (code & 1)
    code >>>= 1
  }
  return r
}

/**
 * Canonical codes (bit-reversed, as deflate writes them LSB first) for `n` lengths at
 * `lengths[off…]`, and the longest length; refuses what zlib refuses.
 */
export function canonical(lengths: Uint8Array, off: number, n: number, kind: CodeKind, what: string): { codes: Uint16Array; maxLen: number } {
  const count = new Uint16Array(16)
  let maxLen = 0
  for (let i = 0; i < n; i++) {
    const l = lengths[off + i]!
    count[l]!++
    if (l > maxLen) maxLen = l
  }
  const codes = new Uint16Array(n)
  if (maxLen === 0) return { codes, maxLen } // no codes at all: any symbol read or written is invalid
  let left = 1
  for (let l = 1; l <= 15; l++) {
    left = (left << 1) - count[l]!
    if (left < 0) throw corrupt(what, 'over-subscribed Huffman code')
  }
  if (left > 0 && (kind === CodeKind.CODES || maxLen !== 1)) throw corrupt(what, 'incomplete Huffman code')
  const next = new Uint16Array(16)
  let code = 0
  for (let l = 1; l <= 15; l++) {
    code = (code + count[l - 1]! * (l > 1 ? 1 : 0)) << 1
    next[l] = code
  }
  // the loop above follows RFC 1951 3.2.2 step 2 with bl_count[0] = 0
  for (let i = 0; i < n; i++) {
    const l = lengths[off + i]!
    if (l) codes[i] = reverse(next[l]!++, l)
  }
  return { codes, maxLen }
}

/**
 * A decoding table of 2^maxLen entries: `(symbol << 4) | length`, 0 where no code
 * starts (an incomplete code's holes: reading one is an invalid stream).
 */
export function decodeTable(lengths: Uint8Array, off: number, n: number, kind: CodeKind, what: string): { table: Int32Array; mask: number } {
  const { codes, maxLen } = canonical(lengths, off, n, kind, what)
  const size = 1 << maxLen
  const table = new Int32Array(size)
  for (let s = 0; s < n; s++) {
    const l = lengths[off + s]!
    if (!l) continue
    const e = (s << 4) | l
    for (let i = codes[s]!; i < size; i += 1 << l) table[i] = e
  }
  return { table, mask: size - 1 }
}

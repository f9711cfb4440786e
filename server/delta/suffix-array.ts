/**
 * Suffix array by induced sorting (SA-IS, Nong–Zhang–Chan 2009), linear time, after the
 * AtCoder Library's `sa_is`. It replaces bsdiff's qsufsort (Larsson–Sadakane, n log n
 * with a large constant), which was most of the delta build's CPU.
 *
 * The result holds the n suffixes of `s` only (no empty suffix), ascending.
 *
 * Scratch memory comes from a `SortScratch` that lives as long as its thread: on this
 * kind of VM the first touch of fresh memory costs far more than the sort itself (a new
 * 25 MB Int32Array took 300–500 ms to fill once, 1 ms the second time), so nothing here
 * allocates per call once the scratch has grown to the largest input seen. Its size is
 * about 1–2 Int32 per input byte plus 1.5 bytes of types (`peakBytes`): the LMS map and the
 * reduced problem's suffix array share the output array.
 */
export function suffixArray(s: Uint8Array, scratch = new SortScratch(), out?: Int32Array): Int32Array {
  const sa = out && out.length >= s.length ? out.subarray(0, s.length) : new Int32Array(s.length)
  scratch.reset()
  saIs(s, s.length, 255, sa, scratch)
  scratch.settle()
  return sa
}

/** A stack of Int32 and byte scratch, grown (never shrunk) to the largest sort seen. */
export class SortScratch {
  private i32 = new Int32Array(0)
  private u8 = new Uint8Array(0)
  private top32 = 0
  private top8 = 0
  /** what the last sort needed, which the next reset makes room for */
  private need32 = 0
  private need8 = 0

  get peakBytes(): number {
    return this.i32.length * 4 + this.u8.length
  }

  reset(): void {
    this.top32 = 0
    this.top8 = 0
  }

  /** after a sort: grow to what it needed, so the next sort of that size allocates nothing */
  settle(): void {
    if (this.need32 > this.i32.length) this.i32 = new Int32Array(this.need32)
    if (this.need8 > this.u8.length) this.u8 = new Uint8Array(this.need8)
  }

  ints(n: number): Int32Array {
    const at = this.top32
    this.top32 += n
    this.need32 = Math.max(this.need32, this.top32)
    return this.top32 <= this.i32.length ? this.i32.subarray(at, this.top32) : new Int32Array(n)
  }

  bytes(n: number): Uint8Array {
    const at = this.top8
    this.top8 += n
    this.need8 = Math.max(this.need8, this.top8)
    return this.top8 <= this.u8.length ? this.u8.subarray(at, this.top8) : new Uint8Array(n)
  }

  /** frees the last allocations back to a mark (LIFO) */
  mark(): [number, number] {
    return [this.top32, this.top8]
  }

  release([a, b]: [number, number]): void {
    this.top32 = a
    this.top8 = b
  }
}

type Text = Uint8Array | Int32Array

/** below this a plain comparison sort is faster than the induced sort's set-up */
const NAIVE_BELOW = 32

function naive(s: Text, n: number, sa: Int32Array): void {
  const idx = Array.from({ length: n }, (_, i) => i)
  idx.sort((a, b) => {
    if (a === b) return 0
    while (a < n && b < n) {
      if (s[a] !== s[b]) return s[a]! - s[b]!
      a++
      b++
    }
    return a === n ? -1 : 1
  })
  for (let i = 0; i < n; i++) sa[i] = idx[i]!
}

function bucketStarts(s: Text, n: number, upper: number, ls: Uint8Array, sumL: Int32Array, sumS: Int32Array): void {
  sumL.fill(0)
  sumS.fill(0)
  for (let i = 0; i < n; i++) {
    if (!ls[i]) sumS[s[i]!]!++
    else sumL[s[i]! + 1]!++
  }
  for (let i = 0; i <= upper; i++) {
    sumS[i]! += sumL[i]!
    if (i < upper) sumL[i + 1]! += sumS[i]!
  }
}

function induce(s: Text, n: number, ls: Uint8Array, sa: Int32Array, lms: Int32Array, sumL: Int32Array, sumS: Int32Array, buf: Int32Array): void {
  sa.fill(-1)
  buf.set(sumS)
  for (let k = 0; k < lms.length; k++) {
    const d = lms[k]!
    sa[buf[s[d]!]!++] = d
  }
  buf.set(sumL)
  sa[buf[s[n - 1]!]!++] = n - 1
  for (let i = 0; i < n; i++) {
    const v = sa[i]! - 1
    if (v >= 0 && !ls[v]) sa[buf[s[v]!]!++] = v
  }
  buf.set(sumL)
  for (let i = n - 1; i >= 0; i--) {
    const v = sa[i]! - 1
    if (v >= 0 && ls[v]) sa[--buf[s[v]! + 1]!] = v
  }
}

function saIs(s: Text, n: number, upper: number, sa: Int32Array, ws: SortScratch): void {
  if (n === 0) return
  if (n === 1) {
    sa[0] = 0
    return
  }
  if (n < NAIVE_BELOW) return naive(s, n, sa)
  const frame = ws.mark()
  // ls[i] = 1: suffix i is S-type (smaller than suffix i + 1)
  const ls = ws.bytes(n)
  ls[n - 1] = 0
  for (let i = n - 2; i >= 0; i--) ls[i] = s[i] === s[i + 1] ? ls[i + 1]! : s[i]! < s[i + 1]! ? 1 : 0
  let m = 0
  for (let i = 1; i < n; i++) if (!ls[i - 1] && ls[i]) m++
  const lms = ws.ints(m)
  for (let i = 1, k = 0; i < n; i++) if (!ls[i - 1] && ls[i]) lms[k++] = i
  // bucket starts and the induce cursor live only around each induce: the recursion
  // below may need the room
  let sums = ws.mark()
  let sumL = ws.ints(upper + 2)
  let sumS = ws.ints(upper + 2)
  bucketStarts(s, n, upper, ls, sumL, sumS)
  induce(s, n, ls, sa, lms, sumL, sumS, ws.ints(upper + 2))
  ws.release(sums)
  if (m > 0) {
    const sorted = ws.ints(m)
    const rec = ws.ints(m)
    for (let i = 0, k = 0; i < n && k < m; i++) {
      const v = sa[i]!
      if (v > 0 && !ls[v - 1] && ls[v]) sorted[k++] = v
    }
    // position → index in lms (LMS positions only, all < n). It lives in `sa`, which holds
    // nothing needed between the extraction above and the final induce: an n-int scratch
    // array less (a third of the sort's peak memory)
    const lmsMap = sa
    for (let k = 0; k < m; k++) lmsMap[lms[k]!] = k
    let recUpper = 0
    rec[lmsMap[sorted[0]!]!] = 0
    for (let i = 1; i < m; i++) {
      let l = sorted[i - 1]!
      let r = sorted[i]!
      const endL = lmsMap[l]! + 1 < m ? lms[lmsMap[l]! + 1]! : n
      const endR = lmsMap[r]! + 1 < m ? lms[lmsMap[r]! + 1]! : n
      let same = true
      if (endL - l !== endR - r) same = false
      else {
        while (l < endL && s[l] === s[r]) (l++, r++)
        if (l === n || r === n || s[l] !== s[r]) same = false
      }
      if (!same) recUpper++
      rec[lmsMap[sorted[i]!]!] = recUpper
    }
    if (recUpper + 1 === m) {
      // all LMS substrings differ: their order is already the suffixes' order
      for (let k = 0; k < m; k++) sorted[rec[k]!] = lms[k]!
    } else {
      // the reduced problem's suffix array also lives in `sa` (m ≤ n / 2; lmsMap is done with)
      const recSa = sa.subarray(0, m)
      saIs(rec, m, recUpper, recSa, ws)
      for (let i = 0; i < m; i++) sorted[i] = lms[recSa[i]!]!
    }
    sums = ws.mark()
    sumL = ws.ints(upper + 2)
    sumS = ws.ints(upper + 2)
    bucketStarts(s, n, upper, ls, sumL, sumS)
    induce(s, n, ls, sa, sorted, sumL, sumS, ws.ints(upper + 2))
    ws.release(sums)
  }
  ws.release(frame)
}

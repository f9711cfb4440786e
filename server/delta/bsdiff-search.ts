import type { BsdiffStreams } from './bsdiff-window.js'

/**
 * bsdiff's search (Colin Percival's bsdiff 4.3 `main` loop, as bsdiff-node and Debian's
 * `bsdiff` run it) over a suffix array of `old`: the same control triples, diff and extra
 * bytes, without the BSDIFF40 container or its bzip2 streams.
 *
 * `old` may be a larger source range than the one the caller has in mind (a sorted range
 * shared by several searches): every suffix in `sa` is a candidate.
 */
export function bsdiffSearch(old: Uint8Array, sa: Int32Array, neu: Uint8Array): BsdiffStreams {
  const oldsize = old.length
  const newsize = neu.length
  const control: Array<[number, number, number]> = []
  const db = Buffer.allocUnsafe(newsize)
  const eb = Buffer.allocUnsafe(newsize)
  let dblen = 0
  let eblen = 0
  let scan = 0
  let len = 0
  let pos = 0
  let lastscan = 0
  let lastpos = 0
  let lastoffset = 0
  const found = { pos: 0 }
  while (scan < newsize) {
    let oldscore = 0
    let scsc = (scan += len)
    for (; scan < newsize; scan++) {
      len = oldsize > 0 ? search(sa, old, neu, scan, 0, oldsize - 1, found) : 0
      pos = found.pos
      for (; scsc < scan + len; scsc++) if (scsc + lastoffset < oldsize && old[scsc + lastoffset] === neu[scsc]) oldscore++
      if ((len === oldscore && len !== 0) || len > oldscore + 8) break
      if (scan + lastoffset < oldsize && old[scan + lastoffset] === neu[scan]) oldscore--
    }
    if (len !== oldscore || scan === newsize) {
      let s = 0
      let sf = 0
      let lenf = 0
      for (let i = 0; lastscan + i < scan && lastpos + i < oldsize; ) {
        if (old[lastpos + i] === neu[lastscan + i]) s++
        i++
        if (s * 2 - i > sf * 2 - lenf) {
          sf = s
          lenf = i
        }
      }
      let lenb = 0
      if (scan < newsize) {
        let sb = 0
        s = 0
        for (let i = 1; scan >= lastscan + i && pos >= i; i++) {
          if (old[pos - i] === neu[scan - i]) s++
          if (s * 2 - i > sb * 2 - lenb) {
            sb = s
            lenb = i
          }
        }
      }
      if (lastscan + lenf > scan - lenb) {
        const overlap = lastscan + lenf - (scan - lenb)
        s = 0
        let ss = 0
        let lens = 0
        for (let i = 0; i < overlap; i++) {
          if (neu[lastscan + lenf - overlap + i] === old[lastpos + lenf - overlap + i]) s++
          if (neu[scan - lenb + i] === old[pos - lenb + i]) s--
          if (s > ss) {
            ss = s
            lens = i + 1
          }
        }
        lenf += lens - overlap
        lenb -= lens
      }
      for (let i = 0; i < lenf; i++) db[dblen + i] = neu[lastscan + i]! - old[lastpos + i]!
      const extraLen = scan - lenb - (lastscan + lenf)
      for (let i = 0; i < extraLen; i++) eb[eblen + i] = neu[lastscan + lenf + i]!
      dblen += lenf
      eblen += extraLen
      control.push([lenf, extraLen, pos - lenb - (lastpos + lenf)])
      lastscan = scan - lenb
      lastpos = pos - lenb
      lastoffset = pos - scan
    }
  }
  return { control, diff: db.subarray(0, dblen), extra: eb.subarray(0, eblen) }
}

/** bytes compared one by one before native comparisons take over (long repeats: zeros, copies) */
const SHORT = 32

/** length of the common prefix of old[o..] and neu[n..] */
function matchlen(old: Uint8Array, o: number, neu: Uint8Array, n: number): number {
  const max = Math.min(old.length - o, neu.length - n)
  let i = 0
  const short = Math.min(max, SHORT)
  while (i < short && old[o + i] === neu[n + i]) i++
  if (i < short || i === max) return i
  // equal so far: skip whole chunks natively (doubling), then bisect the first unequal one
  let chunk = 256
  while (i < max) {
    const k = Math.min(chunk, max - i)
    if (!same(old, o + i, neu, n + i, k)) {
      let lo = 0
      let hi = k // old[o+i .. +lo) equal, the first hi bytes are not
      while (hi - lo > SHORT) {
        const mid = (lo + hi) >> 1
        if (same(old, o + i + lo, neu, n + i + lo, mid - lo)) lo = mid
        else hi = mid
      }
      i += lo
      while (old[o + i] === neu[n + i]) i++
      return i
    }
    i += k
    chunk = Math.min(chunk * 2, 1 << 20)
  }
  return i
}

function same(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  return Buffer.compare(a.subarray(ao, ao + len), b.subarray(bo, bo + len)) === 0
}

/**
 * bsdiff's binary search for the longest match of neu[at..] among the suffixes
 * sa[st..en]: the same steps and answer as its memcmp version, but each comparison starts
 * after the prefix the pattern shares with both ends of the interval (every suffix between
 * them shares it too, the array being sorted), so long repeats (zero runs in an image)
 * are not compared again at every step.
 */
function search(sa: Int32Array, old: Uint8Array, neu: Uint8Array, at: number, st: number, en: number, found: { pos: number }): number {
  // prefix shared with sa[st] / sa[en]: a lower bound (0) until that end is compared
  let lo = 0
  let hi = 0
  let loExact = false
  let hiExact = false
  const rest = neu.length - at
  while (en - st >= 2) {
    const x = st + ((en - st) >> 1)
    const o = sa[x]!
    const k = Math.min(lo, hi)
    // common length of old[o..] and neu[at..] from k on, then memcmp's sign
    const max = Math.min(old.length - o, rest)
    const j = k >= max ? max : k + matchlen(old, o + k, neu, at + k)
    if (j < max && old[o + j]! < neu[at + j]!) {
      st = x
      lo = j
      loExact = true
    } else {
      en = x
      hi = j
      hiExact = true
    }
  }
  if (!loExact) lo = matchlen(old, sa[st]!, neu, at)
  if (!hiExact) hi = matchlen(old, sa[en]!, neu, at)
  if (lo > hi) {
    found.pos = sa[st]!
    return lo
  }
  found.pos = sa[en]!
  return hi
}

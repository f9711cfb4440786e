/**
 * Cheap tests that decide how a changed target range (a "gap" between exact matches)
 * is encoded, before paying for bsdiff.
 */

/** fraction of equal bytes between a and b at the same positions */
export function equalFraction(a: Buffer, b: Buffer, aOff = 0, bOff = 0, len = Math.min(a.length - aOff, b.length - bOff)): number {
  if (len <= 0) return 0
  let eq = 0
  for (let i = 0; i < len; i++) if (a[aOff + i] === b[bOff + i]) eq++
  return eq / len
}

/**
 * Best shift of `sample` (target bytes at tStart) inside `src` (source bytes starting at
 * srcStart), among the candidate deltas and, when `radius` > 0, every delta within
 * ±radius of them. In-place edits (a fine-tune flipping weight bits, an ext4 inode table)
 * leave most bytes equal at the right delta even when no 1 KiB block survives whole.
 */
export function bestDelta(
  sample: Buffer,
  tStart: number,
  src: Buffer,
  srcStart: number,
  candidates: number[],
  radius: number,
): { delta: number; eq: number } {
  let best = { delta: 0, eq: -1 }
  const tried = new Set<number>()
  const tryDelta = (d: number) => {
    if (tried.has(d)) return
    tried.add(d)
    const off = tStart + d - srcStart
    if (off < 0 || off + sample.length > src.length) return
    const eq = equalFraction(sample, src, 0, off, sample.length)
    if (eq > best.eq) best = { delta: d, eq }
  }
  for (const c of candidates) tryDelta(c)
  if (radius > 0 && best.eq < 0.5) for (const c of candidates) for (let r = 1; r <= radius; r++) (tryDelta(c - r), tryDelta(c + r))
  return best
}

const GRAM = 16
const GRAM_PRIME = 0x01000193

export function* sampledGrams(b: Buffer): Generator<number> {
  if (b.length < GRAM) return
  let w = 1
  for (let i = 0; i < GRAM; i++) w = Math.imul(w, GRAM_PRIME)
  let h = 0
  for (let i = 0; i < GRAM; i++) h = (Math.imul(h, GRAM_PRIME) + b[i]!) | 0
  for (let i = GRAM; ; i++) {
    // content-defined sampling (1 in 32 by hash): the same grams are sampled in source
    // and target wherever they sit, so the test survives any shift
    if ((h & 31) === 0) yield h
    if (i >= b.length) return
    h = (Math.imul(h, GRAM_PRIME) - Math.imul(b[i - GRAM]!, w) + b[i]!) | 0
  }
}

/**
 * Share of the target's sampled 16-byte grams that also occur in the source window:
 * near 0 for re-generated content (bsdiff would find nothing), high for a new version of
 * a binary or a shifted file (bsdiff pays).
 */
export function gramOverlap(target: Buffer, sourceWindow: Buffer): number {
  const seen = new Set<number>()
  for (const g of sampledGrams(sourceWindow)) seen.add(g)
  let n = 0
  let hit = 0
  for (const g of sampledGrams(target)) {
    n++
    if (seen.has(g)) hit++
  }
  return n === 0 ? 0 : hit / n
}

export function nonZero(b: Buffer): number {
  let n = 0
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) n++
  return n
}

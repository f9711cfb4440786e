import type { FileHandle } from 'node:fs/promises'
import { bsdiffSearch } from './bsdiff-search.js'
import { ControlBuilder } from './control-builder.js'
import { bsdiffOp, replaceOp, type EncodedOp } from './encode-op.js'
import { bestDelta, gramOverlap, nonZero } from './gap-probe.js'
import type { Piece } from './planner.js'
import type { Semaphore } from './semaphore.js'
import type { SourceSorter } from './source-sorter.js'

export interface BuildStats {
  /** target bytes per encoding */
  copy: number
  exact: number
  aligned: number
  bsdiff: number
  literal: number
  /** how many bsdiff searches ran (whole windows and changed stretches) */
  bsdiffRuns: number
  /** windows where one bsdiff run over the whole window beat the stretch-by-stretch encoding */
  bsdiffWindows: number
  /** windows where that whole-window run was tried */
  bsdiffWholeTries: number
  /** source bytes suffix-sorted in all (the build's main CPU cost grows with them) */
  bsdiffSourceBytes: number
  /** bsdiff searches answered by a source range already sorted (no sort of their own) */
  bsdiffSortHits: number
  /** format v2: compressed members found in the target, and those that re-encode bit-exactly with zlib */
  membersFound: number
  membersProven: number
  /** MEMBER ops written, the target bytes they cover, and members whose MEMBER op did not pay (byte-diffed instead) */
  members: number
  memberBytes: number
  memberFallbacks: number
}

export const emptyStats = (): BuildStats => ({
  copy: 0,
  exact: 0,
  aligned: 0,
  bsdiff: 0,
  literal: 0,
  bsdiffRuns: 0,
  bsdiffWindows: 0,
  bsdiffWholeTries: 0,
  bsdiffSourceBytes: 0,
  bsdiffSortHits: 0,
  membersFound: 0,
  membersProven: 0,
  members: 0,
  memberBytes: 0,
  memberFallbacks: 0,
})

export interface RegionContext {
  source: FileHandle
  target: FileHandle
  sourceSize: number
  tmpDir: string
  /** brotli quality of diff, extra and literal streams */
  quality: number
  /**
   * format version 3: diff streams as sparse records (client-sdk/src/delta/sparse-diff.ts)
   * and new bytes by column where that packs smaller (TRANSPOSED ops)
   */
  formatV3: boolean
  /** largest source window handed to bsdiff, bytes (its suffix sort needs several times this) */
  bsdiffWindow: number
  /** changed stretches shorter than this never go to bsdiff, bytes */
  bsdiffMinGap: number
  /** bsdiff runs allowed at once: the budget counts each one's sort memory per slot */
  bsdiffSlots: Semaphore
  /** suffix-sorted source ranges shared by the bsdiff searches of this thread */
  sorter: SourceSorter
  stats: BuildStats
}

type Segment = { src: number; diff: Buffer } | { extra: Buffer }

/** aligned diffs pay when at least this share of bytes is unchanged at the best shift */
const ALIGNED_MIN_EQUAL = 0.3
/** bsdiff is tried only when this share of the target's sampled grams occurs in the window */
const BSDIFF_MIN_OVERLAP = 0.05

let zeroBytes = Buffer.alloc(0)

/** n zero bytes, read-only: a view of one buffer per thread (the diff of an exact piece; copied by ControlBuilder.streams) */
function zeros(n: number): Buffer {
  if (zeroBytes.length < n) zeroBytes = Buffer.alloc(Math.max(n, 1 << 20))
  return zeroBytes.subarray(0, n)
}

export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(length)
  for (let at = 0; at < length; ) {
    const { bytesRead } = await fh.read(b, at, length - at, position + at)
    if (bytesRead === 0) throw new Error(`short read at ${position + at}`)
    at += bytesRead
  }
  return b
}

/** One window of the target → one BSDIFF op (or REPLACE when no source byte helps). */
export async function buildRegion(t: number, len: number, pieces: Piece[], ctx: RegionContext, tag: string): Promise<EncodedOp> {
  const target = await readAt(ctx.target, t, len)
  // First pass: exact pieces and the cheap encodings (aligned diff or literal) of each
  // changed stretch; no bsdiff yet.
  const parts: Part[] = []
  let changed = 0
  for (const p of pieces) {
    const bytes = target.subarray(p.t - t, p.t - t + p.len)
    if (p.s >= 0) parts.push({ segs: [{ src: p.s, diff: zeros(p.len) }], cost: 0, exact: p.len })
    else {
      changed += p.len
      parts.push(await cheapSegments(bytes, p.t, p.cands ?? [], ctx))
    }
  }
  const cheap = parts.reduce((n, p) => n + p.cost, 0)
  // Changed content cut into many short stretches by short exact matches (a new build of
  // a binary: its unchanged 1 KiB blocks match, the code between them moved a little) is
  // where per-stretch encoding loses to bsdiff over the whole window: stretches under
  // bsdiffMinGap never see bsdiff, and each sees only its own neighbourhood. So one bsdiff
  // run over the whole window competes, and it runs FIRST: per-stretch bsdiff can at best
  // bring its stretches to zero cost, so when the whole run already beats what the other
  // stretches cost, the per-stretch runs cannot win and are skipped (they were half the
  // bsdiff work on the OS pair).
  let whole: Bsdiffed | undefined
  if (changed >= ctx.bsdiffMinGap / 2 && pieces.length > 2 && cheap > 0.02 * len) {
    ctx.stats.bsdiffWholeTries++
    whole = await tryBsdiff(target, sourceRange(t, len, pieces, ctx), ctx, cheap)
  }
  const floor = parts.reduce((n, p) => n + (p.bsdiffable ? 0 : p.cost), 0)
  let stitched = cheap
  if (!whole || whole.cost > floor) {
    // stretches whose source ranges overlap share one sort of their union when that is
    // no more than sorting each (a range inside the whole window's is already sorted)
    const ranges = parts.filter((p) => p.bsdiffable).map((p) => stretchRange(p, ctx))
    const union: [number, number] = [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))]
    const shared = ranges.length > 1 && union[1] - union[0] <= Math.min(ctx.bsdiffWindow, ranges.reduce((n, r) => n + r[1] - r[0], 0))
    for (const [i, p] of parts.entries()) {
      if (!p.bsdiffable) continue
      const b = await tryBsdiff(p.bytes!, stretchRange(p, ctx), ctx, p.beat!, shared ? union : undefined)
      if (!b) continue
      stitched -= p.cost - b.cost
      parts[i] = { segs: b.segs, cost: b.cost, bsdiff: p.bytes!.length }
    }
  }
  let segments: Segment[]
  if (whole && whole.cost < stitched) {
    segments = whole.segs
    ctx.stats.bsdiffWindows++
    ctx.stats.bsdiff += len
  } else {
    segments = parts.flatMap((p) => p.segs)
    for (const p of parts) {
      ctx.stats.exact += p.exact ?? 0
      ctx.stats.aligned += p.aligned ?? 0
      ctx.stats.literal += p.literal ?? 0
      ctx.stats.bsdiff += p.bsdiff ?? 0
    }
  }
  if (segments.every((s) => 'extra' in s)) return replaceOp(t, target, ctx.quality, ctx.formatV3)
  let low = Infinity
  for (const s of segments) if ('src' in s) low = Math.min(low, s.src)
  const cb = new ControlBuilder(low)
  for (const s of segments) {
    if ('src' in s) cb.diff(s.src, s.diff)
    else cb.extra(s.extra)
  }
  const { diff, extra } = cb.streams()
  return bsdiffOp(
    { targetOffset: t, target, srcOffset: low, srcLength: cb.high - low, control: cb.entries, diff, extra },
    ctx.quality,
    ctx.formatV3,
  )
}

/** One piece of a window, encoded: its segments, its cost, and the stats it adds if it is used. */
interface Part {
  segs: Segment[]
  /** bytes that cost about one literal byte each */
  cost: number
  exact?: number
  aligned?: number
  literal?: number
  bsdiff?: number
  /** a changed stretch that per-stretch bsdiff may improve: its bytes and where its old version likely starts */
  bsdiffable?: boolean
  bytes?: Buffer
  anchor?: number
  /** what bsdiff must cost less than to replace the cheap encoding */
  beat?: number
}

interface Bsdiffed {
  segs: Segment[]
  cost: number
}

/**
 * Where a whole window's old version sits, by content: each match (and each changed
 * stretch's candidate shift) projects the window's start into the source; the middle 80%
 * of those projections, widened by a margin, is the source range. A rebuilt binary's
 * matches all point into one stretch about as long as the window, so bsdiff sorts ~1.2×
 * the window instead of the 2× a fixed ±half-window around the median gave (its suffix
 * sort is most of the build's CPU). Matches spread wider than that fall back to the
 * median with half a window each way, capped by the budget's bsdiff window.
 */
export function sourceRange(t: number, len: number, pieces: Piece[], ctx: Pick<RegionContext, 'sourceSize' | 'bsdiffWindow'>): [number, number] {
  const starts: number[] = []
  for (const p of pieces) {
    if (p.s >= 0) starts.push(p.s - p.t + t)
    else for (const d of p.cands ?? []) starts.push(t + d)
  }
  starts.sort((a, b) => a - b)
  const at = (q: number) => starts[Math.min(starts.length - 1, Math.floor(q * starts.length))] ?? t
  const margin = 64 * 1024 + Math.floor(len / 16)
  let from = at(0.1) - margin
  let to = at(0.9) + len + margin
  if (to - from > len + 2 * margin + len / 4) {
    const mid = at(0.5)
    from = mid - 64 * 1024 - Math.floor(len / 2)
    to = mid + len + 64 * 1024 + Math.floor(len / 2)
  }
  from = Math.max(0, from)
  to = Math.min(ctx.sourceSize, to, from + ctx.bsdiffWindow)
  return [from, Math.max(from, to)]
}

/**
 * A changed stretch's own source range: the anchor is where the previous match says its
 * old version starts (the next file in an ext4 image, the next tensor in a model), so look
 * mostly to the right and only a little further than the stretch itself: bsdiff's suffix
 * sort costs ~1.4 s per MB of window here, and a fixed 20 MB window per stretch made a
 * 500 MB OS image take half an hour.
 */
function stretchRange(p: Part, ctx: RegionContext): [number, number] {
  const n = p.bytes!.length
  const from = Math.max(0, p.anchor! - 64 * 1024 - Math.floor(n / 8))
  const to = Math.min(ctx.sourceSize, from + Math.min(ctx.bsdiffWindow, 64 * 1024 + Math.floor(n / 8) + n + 64 * 1024 + Math.floor(n / 4)))
  return [from, Math.max(from, to)]
}

/**
 * A changed stretch, cheapest test first: an aligned diff at the best nearby shift
 * (in-place edits), else literal. Marks it for bsdiff (against a source window
 * around where the neighbouring matches say the old version sits) when it is long
 * enough and the aligned diff is not near-perfect: binaries with shifted code often look
 * 30–60% "equal" at one shift (zeros, tables) while bsdiff finds the real matches.
 */
async function cheapSegments(gap: Buffer, t: number, cands: number[], ctx: RegionContext): Promise<Part> {
  const deltas = cands.length > 0 ? cands : [0]
  const sampleLen = Math.min(gap.length, 16 * 1024)
  const radius = gap.length >= 16 * 1024 ? 128 : 0
  let best = { delta: 0, eq: -1 }
  for (const d of deltas) {
    const from = Math.max(0, t + d - radius)
    const to = Math.min(ctx.sourceSize, t + d + sampleLen + radius)
    if (to - from < sampleLen) continue
    const r = bestDelta(gap.subarray(0, sampleLen), t, await readAt(ctx.source, from, to - from), from, [d], radius)
    if (r.eq > best.eq) best = r
  }
  const src = t + best.delta
  let part: Part = { segs: [{ extra: gap }], cost: gap.length, literal: gap.length }
  if (best.eq >= ALIGNED_MIN_EQUAL && src >= 0 && src + gap.length <= ctx.sourceSize) {
    const old = await readAt(ctx.source, src, gap.length)
    const diff = Buffer.allocUnsafe(gap.length)
    for (let i = 0; i < gap.length; i++) diff[i] = gap[i]! - old[i]!
    // the sample may not speak for the whole stretch: insist on it over all of it
    const cost = nonZero(diff)
    if (cost <= (1 - ALIGNED_MIN_EQUAL) * gap.length) part = { segs: [{ src, diff }], cost, aligned: gap.length }
  }
  // a near-perfect aligned diff cannot be beaten by much; an unaligned stretch is taken
  // to cost 0.8 of its length, so bsdiff must do better than that to be used
  const aligned = part.aligned !== undefined
  if (gap.length >= ctx.bsdiffMinGap && (!aligned || part.cost > 0.05 * gap.length)) {
    part.bsdiffable = true
    part.bytes = gap
    part.anchor = aligned ? src : t + deltas[0]!
    part.beat = aligned ? part.cost : 0.8 * gap.length
  }
  return part
}

/**
 * bsdiff's search for `gap` against source[range) (or a sorted range holding it:
 * `sortRange`, or one already sorted); used only if it costs less than `beat`.
 */
async function tryBsdiff(gap: Buffer, [winStart, winEnd]: [number, number], ctx: RegionContext, beat: number, sortRange?: [number, number]): Promise<Bsdiffed | undefined> {
  if (winEnd - winStart < 64) return undefined
  // a kept sorted range that holds the window has its bytes: no read, no copy
  const kept = ctx.sorter.find(winStart, winEnd)
  const win = kept ? kept.bytes.subarray(winStart - kept.start, winEnd - kept.start) : await readAt(ctx.source, winStart, winEnd - winStart)
  if (gramOverlap(gap, win) < BSDIFF_MIN_OVERLAP) return undefined
  ctx.stats.bsdiffRuns++
  const want = sortRange && !ctx.sorter.find(winStart, winEnd) ? sortRange : [winStart, winEnd]
  // the window just read becomes the sorted range's bytes when that range is the window
  const [sorted, fresh] = await ctx.sorter.get(want[0]!, want[1]!, !kept && want[0] === winStart && want[1] === winEnd ? win : undefined)
  if (fresh) ctx.stats.bsdiffSourceBytes += sorted.bytes.length
  else ctx.stats.bsdiffSortHits++
  const { control, diff, extra } = bsdiffSearch(sorted.bytes, sorted.sa, gap)
  // diff bytes that are not zero and extra bytes both cost about a literal byte
  const cost = nonZero(diff) + extra.length
  if (cost >= beat) return undefined
  const segs: Segment[] = []
  let oldpos = 0
  let d = 0
  let e = 0
  for (const [x, y, z] of control) {
    if (x > 0) {
      if (oldpos < 0 || oldpos + x > sorted.bytes.length) return undefined // never trust a window escape
      segs.push({ src: sorted.start + oldpos, diff: diff.subarray(d, d + x) })
    }
    if (y > 0) segs.push({ extra: extra.subarray(e, e + y) })
    d += x
    e += y
    oldpos += x + z
  }
  if (d + e !== gap.length) return undefined
  return { segs, cost }
}

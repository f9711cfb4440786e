import type { FileHandle } from 'node:fs/promises'
import { bsdiffWindow } from './bsdiff-window.js'
import { ControlBuilder } from './control-builder.js'
import { bsdiffOp, replaceOp, type EncodedOp } from './encode-op.js'
import { bestDelta, gramOverlap, nonZero } from './gap-probe.js'
import type { Piece } from './planner.js'
import type { Semaphore } from './semaphore.js'

export interface BuildStats {
  /** target bytes per encoding */
  copy: number
  exact: number
  aligned: number
  bsdiff: number
  literal: number
  /** how many changed stretches went through bsdiff-node */
  bsdiffRuns: number
  /** windows where one bsdiff run over the whole window beat the stretch-by-stretch encoding */
  bsdiffWindows: number
}

export const emptyStats = (): BuildStats => ({ copy: 0, exact: 0, aligned: 0, bsdiff: 0, literal: 0, bsdiffRuns: 0, bsdiffWindows: 0 })

export interface RegionContext {
  source: FileHandle
  target: FileHandle
  sourceSize: number
  tmpDir: string
  /** brotli quality of diff, extra and literal streams */
  quality: number
  /** largest source window handed to bsdiff-node, bytes (it needs ~17× this) */
  bsdiffWindow: number
  /** changed stretches shorter than this never go to bsdiff-node, bytes */
  bsdiffMinGap: number
  /** bsdiff-node runs allowed at once: each needs ~17× its window, which the budget counts per slot */
  bsdiffSlots: Semaphore
  stats: BuildStats
}

type Segment = { src: number; diff: Buffer } | { extra: Buffer }

/** aligned diffs pay when at least this share of bytes is unchanged at the best shift */
const ALIGNED_MIN_EQUAL = 0.3
/** bsdiff is tried only when this share of the target's sampled grams occurs in the window */
const BSDIFF_MIN_OVERLAP = 0.05

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
  let segments: Segment[] = []
  let changed = 0
  for (const p of pieces) {
    const bytes = target.subarray(p.t - t, p.t - t + p.len)
    if (p.s >= 0) {
      segments.push({ src: p.s, diff: Buffer.alloc(p.len) })
      ctx.stats.exact += p.len
    } else {
      changed += p.len
      segments.push(...(await changedSegments(bytes, p.t, p.cands ?? [], ctx, `${tag}-${p.t}`)))
    }
  }
  // Changed content cut into many short stretches by short exact matches (a new build of
  // a binary: its unchanged 1 KiB blocks match, the code between them moved a little) is
  // where per-stretch encoding loses to bsdiff over the whole window: stretches under
  // bsdiffMinGap never see bsdiff, and each sees only its own neighbourhood. So one bsdiff
  // run over the whole window competes with the stitched result, cheapest wins.
  const stitched = segmentCost(segments)
  if (changed >= ctx.bsdiffMinGap / 2 && pieces.length > 2 && stitched > 0.02 * len) {
    const whole = await tryBsdiff(target, sourceCenter(t, pieces), ctx, `${tag}-w`, stitched, true)
    if (whole) {
      segments = whole
      ctx.stats.bsdiffWindows++
    }
  }
  if (segments.every((s) => 'extra' in s)) return replaceOp(t, target, ctx.quality)
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
  )
}

/** bytes that cost about one literal byte each: extra bytes and non-zero diff bytes */
function segmentCost(segments: Segment[]): number {
  let n = 0
  for (const s of segments) n += 'extra' in s ? s.extra.length : nonZero(s.diff)
  return n
}

/** Where the window's old version sits: the median source − target shift of its matches, applied to its start. */
function sourceCenter(t: number, pieces: Piece[]): number {
  const deltas: number[] = []
  for (const p of pieces) {
    if (p.s >= 0) deltas.push(p.s - p.t)
    else if (p.cands) deltas.push(...p.cands)
  }
  deltas.sort((a, b) => a - b)
  return t + (deltas[deltas.length >> 1] ?? 0)
}

/**
 * A changed stretch, cheapest test first: an aligned diff at the best nearby shift
 * (in-place edits), then bsdiff-node against a source window around where the
 * neighbouring matches say the old version sits (edited or rebuilt content), else literal.
 */
async function changedSegments(gap: Buffer, t: number, cands: number[], ctx: RegionContext, tag: string): Promise<Segment[]> {
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
  let aligned: { src: number; diff: Buffer; cost: number } | undefined
  if (best.eq >= ALIGNED_MIN_EQUAL && src >= 0 && src + gap.length <= ctx.sourceSize) {
    const old = await readAt(ctx.source, src, gap.length)
    const diff = Buffer.allocUnsafe(gap.length)
    for (let i = 0; i < gap.length; i++) diff[i] = gap[i]! - old[i]!
    // the sample may not speak for the whole stretch: insist on it over all of it
    const cost = nonZero(diff)
    if (cost <= (1 - ALIGNED_MIN_EQUAL) * gap.length) aligned = { src, diff, cost }
  }
  // a near-perfect aligned diff cannot be beaten by much; otherwise let bsdiff compete:
  // binaries with shifted code often look 30–60% "equal" at one shift (zeros, tables)
  // while bsdiff finds the real matches. Cost: bytes that are neither zero diff nor
  // skipped, about one literal byte each.
  if (gap.length >= ctx.bsdiffMinGap && (!aligned || aligned.cost > 0.05 * gap.length)) {
    const b = await tryBsdiff(gap, t + (aligned ? aligned.src - t : deltas[0]!), ctx, tag, aligned?.cost ?? 0.8 * gap.length)
    if (b) return b
  }
  if (aligned) {
    ctx.stats.aligned += gap.length
    return [{ src: aligned.src, diff: aligned.diff }]
  }
  ctx.stats.literal += gap.length
  return [{ extra: gap }]
}

/** bsdiff-node on the stretch against a window around `center`; used only if it costs less than `beat`. */
async function tryBsdiff(gap: Buffer, center: number, ctx: RegionContext, tag: string, beat: number, whole = false): Promise<Segment[] | undefined> {
  // The anchor is where the previous match says this stretch's old version starts (the
  // next file in an ext4 image, the next tensor in a model), so look mostly to the right
  // and only a little further than the stretch itself: bsdiff's suffix sort costs
  // ~1.4 s per MB of window here, and a fixed 20 MB window per stretch made a 500 MB OS
  // image take half an hour.
  // A whole window's old version is spread wider (its matches point to several places): give it room both ways.
  const left = 64 * 1024 + Math.floor(gap.length / (whole ? 2 : 8))
  const right = 64 * 1024 + Math.floor(gap.length / (whole ? 2 : 4))
  const winStart = Math.max(0, center - left)
  const winEnd = Math.min(ctx.sourceSize, winStart + Math.min(ctx.bsdiffWindow, left + gap.length + right))
  if (winEnd - winStart < 64) return undefined
  const win = await readAt(ctx.source, winStart, winEnd - winStart)
  if (gramOverlap(gap, win) < BSDIFF_MIN_OVERLAP) return undefined
  ctx.stats.bsdiffRuns++
  const { control, diff, extra } = await ctx.bsdiffSlots.run(() => bsdiffWindow(ctx.tmpDir, tag, win, gap))
  // diff bytes that are not zero and extra bytes both cost about a literal byte
  if (nonZero(diff) + extra.length >= beat) return undefined
  const segs: Segment[] = []
  let oldpos = 0
  let d = 0
  let e = 0
  for (const [x, y, z] of control) {
    if (x > 0) {
      if (oldpos < 0 || oldpos + x > win.length) return undefined // never trust a window escape
      segs.push({ src: winStart + oldpos, diff: diff.subarray(d, d + x) })
    }
    if (y > 0) segs.push({ extra: extra.subarray(e, e + y) })
    d += x
    e += y
    oldpos += x + z
  }
  if (d + e !== gap.length) return undefined
  if (!whole) ctx.stats.bsdiff += gap.length
  return segs
}

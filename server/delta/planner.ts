import type { Match } from './matcher.js'

/** A piece of target: an exact match (s ≥ 0) or a changed stretch (s = -1) with candidate source deltas. */
export interface Piece {
  t: number
  len: number
  s: number
  /** for changed stretches: source − target offsets of the neighbouring matches, likeliest first */
  cands?: number[]
}

export type PlanItem = { kind: 'copy'; t: number; s: number; len: number } | { kind: 'region'; t: number; len: number; pieces: Piece[] }

export interface PlanOptions {
  /** largest target range of one BSDIFF/REPLACE op, bytes */
  window: number
  /** matches at least this long become COPY ops; shorter ones stay inside a region as zero diffs */
  copyMin: number
  /** largest COPY op, bytes: bounds the work redone after a crash */
  copyMax: number
}

/**
 * Turns the matcher's output into ops in target order: long matches become COPY ops;
 * everything between them is cut into windows of at most `window` bytes, each becoming
 * one BSDIFF or REPLACE op built by a worker.
 */
export function* plan(matches: Iterable<Match>, targetSize: number, o: PlanOptions): Generator<PlanItem> {
  let cursor = 0
  let lastDelta: number | undefined
  let pieces: Piece[] = []
  let start = 0
  let filled = 0

  function* flush(): Generator<PlanItem> {
    if (filled > 0) yield { kind: 'region', t: start, len: filled, pieces }
    pieces = []
    filled = 0
  }
  function* add(p: Piece): Generator<PlanItem> {
    while (p.len > 0) {
      if (filled === 0) start = p.t
      const n = Math.min(p.len, o.window - filled)
      pieces.push({ ...p, len: n })
      filled += n
      if (filled === o.window) yield* flush()
      p = { ...p, t: p.t + n, len: p.len - n, s: p.s < 0 ? p.s : p.s + n }
    }
  }
  const gapTo = function* (end: number, next?: number) {
    if (end <= cursor) return
    const cands = [...new Set([lastDelta, next].filter((d): d is number => d !== undefined))]
    yield* add({ t: cursor, len: end - cursor, s: -1, cands })
    cursor = end
  }

  for (const m of matches) {
    if (m.len === 0) {
      yield* gapTo(m.t)
      continue
    }
    yield* gapTo(m.t, m.s - m.t)
    if (m.len >= o.copyMin) {
      yield* flush()
      for (let at = 0; at < m.len; at += o.copyMax) {
        yield { kind: 'copy', t: m.t + at, s: m.s + at, len: Math.min(o.copyMax, m.len - at) }
      }
    } else {
      yield* add({ t: m.t, len: m.len, s: m.s })
    }
    cursor = m.t + m.len
    lastDelta = m.s - m.t
  }
  yield* gapTo(targetSize)
  yield* flush()
}

/**
 * The failure rate of a rollout over time, with its Wilson band. Each decided member
 * (healthy or failed, classified as the gate classifies it) counts from the time of its
 * newest report; a point follows each one. That is the gate's own figure at every
 * instant except for members whose verdict changed later (they count from the change),
 * and it reads one row per member, not every report: the chart of a 10,000-device
 * rollout stays cheap. Silent devices are not on it (silence has no time of its own).
 */
import { wilson } from './wilson.js'

export interface SeriesPoint {
  at: string
  healthy: number
  failed: number
  rate: number
  lower: number
  upper: number
}

/** `decided`: one entry per decided member, in the order of `at`. */
export function failureSeries(decided: Array<{ at: string; failed: boolean }>, confidence: number, maxPoints = 200): SeriesPoint[] {
  let healthy = 0
  let failed = 0
  const points: SeriesPoint[] = []
  const every = Math.max(1, Math.ceil(decided.length / maxPoints))
  decided.forEach((d, i) => {
    if (d.failed) failed++
    else healthy++
    // thin to at most maxPoints, always keeping the newest
    if ((i + 1) % every !== 0 && i !== decided.length - 1) return
    const n = healthy + failed
    const b = wilson(failed, n, confidence)
    points.push({ at: d.at, healthy, failed, rate: failed / n, lower: b.lower, upper: b.upper })
  })
  return points
}

/**
 * The failure rate of a rollout over time, with its Wilson band: replays the rollout's
 * reports in the order received, classifying each device as the gate does (failed: a
 * failed or rolled-back event, or a failed health report; healthy: succeeded with no
 * failed health), and emits a point whenever the decided count changes. Devices that
 * fall silent are not in the replay (silence has no report to put on a time axis).
 */
import type { Gate } from './model.js'
import type { HealthReport } from './report-service.js'
import { healthFailures } from './report-service.js'
import type { StoredReport } from './repositories.js'
import { wilson } from './wilson.js'

export interface SeriesPoint {
  at: string
  healthy: number
  failed: number
  rate: number
  lower: number
  upper: number
}

export function failureSeries(reports: StoredReport[], release: { name: string; version: string }, gate: Gate, maxPoints = 200): SeriesPoint[] {
  const state = new Map<string, { succeeded: boolean; failedEvent: boolean; healthFailed: boolean }>()
  let healthy = 0
  let failed = 0
  const points: SeriesPoint[] = []
  for (const r of reports) {
    const b = r.body as { release?: { name: string; version: string }; state?: string }
    if (b.release?.name !== release.name || b.release.version !== release.version) continue
    const s = state.get(r.deviceId) ?? { succeeded: false, failedEvent: false, healthFailed: false }
    const before = classify(s)
    if (r.kind === 'event') {
      if (b.state === 'succeeded') s.succeeded = true
      if (b.state === 'failed' || b.state === 'rolled-back') s.failedEvent = true
    } else s.healthFailed = healthFailures(r.body as HealthReport, gate).length > 0
    state.set(r.deviceId, s)
    const after = classify(s)
    if (before === after) continue
    if (before === 'healthy') healthy--
    if (before === 'failed') failed--
    if (after === 'healthy') healthy++
    if (after === 'failed') failed++
    const decided = healthy + failed
    const b2 = wilson(failed, decided, gate.confidence)
    points.push({ at: r.at, healthy, failed, rate: decided ? failed / decided : 0, lower: b2.lower, upper: b2.upper })
  }
  if (points.length <= maxPoints) return points
  // keep the last point of each of maxPoints equal slices, so the newest figure is exact
  const step = points.length / maxPoints
  return Array.from({ length: maxPoints }, (_, i) => points[Math.min(points.length - 1, Math.floor((i + 1) * step) - 1)]!)
}

function classify(s: { succeeded: boolean; failedEvent: boolean; healthFailed: boolean }): 'healthy' | 'failed' | 'pending' {
  if (s.failedEvent || s.healthFailed) return 'failed'
  return s.succeeded ? 'healthy' : 'pending'
}

/**
 * The health gate: a pure decision from a rollout and its member counts at one
 * instant. Breach as soon as the failure rate is shown to be above the limit (the
 * Wilson lower bound exceeds it) or an absolute failure count is reached; promote only
 * when the phase has soaked, enough devices reported healthy and the Wilson upper bound
 * of the failure rate is within the limit.
 */
import type { MemberCounts, Rollout } from '../fleet-model.js'
import { wilson, type Bounds } from './wilson.js'

export interface MetricVerdict {
  name: string
  /** median over the rollout's reporting devices */
  median: number
  /** median over devices on other versions of the same release name */
  baseline: number | null
  ratio: number | null
  limit: number
  breached: boolean
}

export interface GateFigures {
  decided: number
  failureRate: number
  bounds: Bounds
  soakRemainingSeconds: number
  healthyNeeded: number
  metrics: MetricVerdict[]
}

export type GateDecision =
  | { verdict: 'breach'; reason: string; figures: GateFigures }
  | { verdict: 'promote' | 'complete'; reason: string; figures: GateFigures }
  | { verdict: 'wait'; reason: string; figures: GateFigures }

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export function evaluateGate(r: Rollout, counts: MemberCounts, metrics: MetricVerdict[], now: Date): GateDecision {
  const g = r.gate
  const phase = r.phases[r.phase]!
  const decided = counts.healthy + counts.failed
  const bounds = wilson(counts.failed, decided, g.confidence)
  const started = r.phaseStartedAt ? Date.parse(r.phaseStartedAt) : now.getTime()
  const soakRemainingSeconds = Math.max(0, Math.ceil(phase.soakSeconds - (now.getTime() - started) / 1000))
  const figures: GateFigures = {
    decided,
    failureRate: decided ? counts.failed / decided : 0,
    bounds,
    soakRemainingSeconds,
    healthyNeeded: Math.max(0, phase.minDevices - counts.healthy),
    metrics,
  }
  const conf = `${Math.round(g.confidence * 100)}%`
  if (g.maxFailures !== undefined && counts.failed >= g.maxFailures)
    return { verdict: 'breach', figures, reason: `${counts.failed} devices failed (${counts.silent} silent), limit ${g.maxFailures}` }
  if (decided >= g.minSample && bounds.lower > g.maxFailureRate)
    return {
      verdict: 'breach',
      figures,
      reason: `failure rate ${counts.failed}/${decided}: ${conf} lower bound ${pct(bounds.lower)} exceeds ${pct(g.maxFailureRate)}`,
    }
  const badMetric = metrics.find((m) => m.breached)
  if (badMetric)
    return {
      verdict: 'breach',
      figures,
      reason: `${badMetric.name} median ${badMetric.median} is ${badMetric.ratio?.toFixed(2)}× the previous release's ${badMetric.baseline} (limit ${badMetric.limit}×)`,
    }
  const waiting: string[] = []
  if (soakRemainingSeconds > 0) waiting.push(`soak ends in ${soakRemainingSeconds} s`)
  if (figures.healthyNeeded > 0) waiting.push(`${figures.healthyNeeded} more healthy devices needed (${counts.healthy}/${phase.minDevices})`)
  if (decided < g.minSample) waiting.push(`${g.minSample - decided} more reports needed for a sample of ${g.minSample}`)
  else if (bounds.upper > g.maxFailureRate)
    waiting.push(`failure ${conf} upper bound ${pct(bounds.upper)} is above ${pct(g.maxFailureRate)} (${counts.failed}/${decided} failed)`)
  if (waiting.length) return { verdict: 'wait', figures, reason: waiting.join('; ') }
  const last = r.phase === r.phases.length - 1
  return {
    verdict: last ? 'complete' : 'promote',
    figures,
    reason: `phase ${r.phase + 1} healthy: ${counts.healthy} healthy, ${counts.failed} failed, ${conf} upper bound ${pct(bounds.upper)} ≤ ${pct(g.maxFailureRate)}`,
  }
}

/** Median; undefined for no values. */
export function median(values: number[]): number | undefined {
  if (!values.length) return undefined
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2
}

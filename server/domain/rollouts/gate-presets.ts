/**
 * Gate presets (`--gate strict|standard|small-canary`) and what a phase needs to be
 * promoted under a gate. Explicit gate fields given with a preset override its values.
 */
import type { Gate, Phase } from '../fleet-model.js'
import { DEFAULT_GATE } from './rollout-input.js'
import { wilson } from './wilson.js'

export const GATE_PRESETS = {
  /** the default: under 5% failures shown at 95% confidence, judged from 5 reports */
  standard: { ...DEFAULT_GATE },
  /** large fleets, critical images: under 2% at 99% confidence, 20 reports, breach at 5 failures, silent after 30 min */
  strict: { maxFailureRate: 0.02, minSample: 20, confidence: 0.99, maxFailures: 5, silentAfterSeconds: 1800 },
  /**
   * A handful of devices: a confidence bound over 5 devices cannot show a rate under
   * any useful limit (5 of 5 healthy still has a 95% upper bound of 43%), so the rate is
   * not judged (maxFailureRate 1) and the first failed device is a breach (maxFailures 1).
   * A 5-device canary with no failures promotes after its soak.
   */
  'small-canary': { maxFailureRate: 1, minSample: 5, confidence: 0.95, maxFailures: 1, silentAfterSeconds: 3600 },
} as const satisfies Record<string, Gate>

export type GatePreset = keyof typeof GATE_PRESETS
export const GATE_PRESET_NAMES = Object.keys(GATE_PRESETS) as GatePreset[]

/**
 * Healthy devices (cumulative) a phase needs before the gate can promote it, if none
 * fails: its minDevices, the gate's minimum sample, and enough reports for the upper
 * bound of 0 failures to fall within maxFailureRate. null: it can never promote on its
 * own (maxFailureRate 0, or more than 100,000 devices needed).
 */
export function healthyToPromote(phase: Phase, gate: Gate): number | null {
  let n = Math.max(phase.minDevices, gate.minSample, 1)
  if (gate.maxFailureRate >= 1) return n
  if (gate.maxFailureRate <= 0) return null
  // the upper bound of 0/n falls monotonically with n: binary search the first n that passes
  if (wilson(0, n, gate.confidence).upper <= gate.maxFailureRate) return n
  let lo = n
  let hi = 100_000
  if (wilson(0, hi, gate.confidence).upper > gate.maxFailureRate) return null
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (wilson(0, mid, gate.confidence).upper <= gate.maxFailureRate) hi = mid
    else lo = mid
  }
  n = hi
  return n
}

/** Validation of a rollout definition beyond its JSON schema: phases, gate, defaults. */
import { invalid } from '../errors.js'
import type { BreachAction, Gate, Phase, Selector } from '../fleet-model.js'

export interface RolloutInput {
  release: string
  selector?: Selector
  phases: Phase[]
  gate?: Partial<Gate>
  /** named gate values (gate-presets.ts); `gate` fields override them */
  gatePreset?: 'standard' | 'strict' | 'small-canary'
  breachAction?: BreachAction
  /** a rollout id a dry run reserved: the rollout gets it, and with it the dry run's cohorts */
  id?: string
  /** create even when the selector matches no device now */
  allowEmpty?: boolean
}

export const DEFAULT_GATE: Gate = {
  maxFailureRate: 0.05,
  minSample: 5,
  confidence: 0.95,
  silentAfterSeconds: 3600,
}

export function checkPhases(phases: Phase[]): void {
  if (!phases.length) throw invalid('ROLLOUT_PHASES_INVALID', 'a rollout needs at least one phase')
  let last = 0
  phases.forEach((p, i) => {
    if (!(p.percent > 0 && p.percent <= 100))
      throw invalid('ROLLOUT_PERCENT_OUT_OF_RANGE', `phase ${i + 1}: percent must be in (0, 100], got ${p.percent}`, { phase: i + 1 })
    if (p.percent <= last)
      throw invalid('ROLLOUT_PHASES_NOT_INCREASING', `phase ${i + 1}: percent ${p.percent} must be above the previous phase's ${last}`, { phase: i + 1 })
    if (!Number.isInteger(p.minDevices) || p.minDevices < 0) throw invalid('ROLLOUT_PHASES_INVALID', `phase ${i + 1}: minDevices must be a whole number ≥ 0`)
    if (!(p.soakSeconds >= 0)) throw invalid('ROLLOUT_PHASES_INVALID', `phase ${i + 1}: soakSeconds must be ≥ 0`)
    last = p.percent
  })
}

export function gateOf(g: Partial<Gate> | undefined): Gate {
  const gate: Gate = { ...DEFAULT_GATE, ...g }
  if (!(gate.maxFailureRate >= 0 && gate.maxFailureRate <= 1)) throw invalid('ROLLOUT_GATE_INVALID', 'gate.maxFailureRate must be in [0, 1]')
  if (!(gate.confidence > 0.5 && gate.confidence < 1)) throw invalid('ROLLOUT_GATE_INVALID', 'gate.confidence must be in (0.5, 1)')
  if (!(gate.minSample >= 1)) throw invalid('ROLLOUT_GATE_INVALID', 'gate.minSample must be ≥ 1')
  if (gate.maxFailures !== undefined && !(gate.maxFailures >= 1)) throw invalid('ROLLOUT_GATE_INVALID', 'gate.maxFailures must be ≥ 1')
  if (!(gate.silentAfterSeconds > 0)) throw invalid('ROLLOUT_GATE_INVALID', 'gate.silentAfterSeconds must be > 0')
  for (const m of gate.metrics ?? []) {
    if (m.max === undefined && m.maxRatioToPrevious === undefined)
      throw invalid('ROLLOUT_GATE_INVALID', `gate metric ${m.name}: give max and/or maxRatioToPrevious`)
    if (m.maxRatioToPrevious !== undefined && !(m.maxRatioToPrevious > 0)) throw invalid('ROLLOUT_GATE_INVALID', `gate metric ${m.name}: maxRatioToPrevious must be > 0`)
  }
  return gate
}

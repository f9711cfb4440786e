/**
 * Deterministic cohorts: hash(rollout id, device id) → [0, 1). A device is reached by
 * phase k when its position is below percent_k / 100, so phases only ever add devices
 * and nothing is stored until a device checks in.
 */
import { createHash } from 'node:crypto'
import type { Phase } from '../fleet-model.js'

export function cohortPosition(rolloutId: string, deviceId: string): number {
  const d = createHash('sha256').update(rolloutId).update('\0').update(deviceId).digest()
  // 52 bits: exact in a double, uniform enough for any fleet size
  return (d.readUInt32BE(0) * 2 ** 20 + (d.readUInt32BE(4) >>> 12)) / 2 ** 52
}

/** The first phase index that reaches this position, or -1 when none does. */
export function phaseOf(position: number, phases: readonly Phase[]): number {
  return phases.findIndex((p) => position < p.percent / 100)
}

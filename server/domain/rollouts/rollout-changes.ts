/**
 * Rollout transitions reach every replica's caches at once: the process that commits a
 * transition publishes the rollout id on the change bus, and every process (replicas
 * and workers alike) drops its cached rollouts when it hears one. The caches' own
 * expiry stays as the fallback for a lost notice.
 */
import type { Rollout } from '../fleet-model.js'
import { rolloutTopic, type Announce } from '../live-changes.js'
import type { ChangeBus } from '../ports/infrastructure.js'
import type { FleetCaches } from './caches.js'

/** Told after a rollout's creation or transition commits (RolloutService). */
export type TransitionListener = (r: Rollout, action: string) => void

export const ROLLOUT_CHANGES = 'rollout-changes'

/** Subscribe `caches` to transitions committed anywhere; resolves once subscribed. */
export function followRolloutChanges(bus: ChangeBus, caches: FleetCaches): Promise<() => Promise<void>> {
  return bus.subscribe(ROLLOUT_CHANGES, () => caches.invalidate())
}

/** What a committed transition tells: every process's caches (the bus), and the live pages of the rollout and the fleet. */
export function announceTransitions(bus: ChangeBus, announce: Announce): TransitionListener {
  return (r) => {
    announceRolloutChange(bus, r.id)
    announce([rolloutTopic(r.id), 'fleet'])
  }
}

/** Tell every process a rollout changed; a lost notice only costs the cache expiry. */
export function announceRolloutChange(bus: ChangeBus, rolloutId: string): void {
  bus.publish(ROLLOUT_CHANGES, rolloutId).catch(() => undefined)
}

/**
 * Rollout transitions reach every replica's caches at once: the process that commits a
 * transition publishes the rollout id on the change bus, and every process (replicas
 * and workers alike) drops its cached rollouts when it hears one. The caches' own
 * expiry stays as the fallback for a lost notice.
 */
import type { ChangeBus } from '../ports/infrastructure.js'
import type { FleetCaches } from './caches.js'

export const ROLLOUT_CHANGES = 'rollout-changes'

/** Subscribe `caches` to transitions committed anywhere; resolves once subscribed. */
export function followRolloutChanges(bus: ChangeBus, caches: FleetCaches): Promise<() => Promise<void>> {
  return bus.subscribe(ROLLOUT_CHANGES, () => caches.invalidate())
}

/** Tell every process a rollout changed; a lost notice only costs the cache expiry. */
export function announceRolloutChange(bus: ChangeBus, rolloutId: string): void {
  bus.publish(ROLLOUT_CHANGES, rolloutId).catch(() => undefined)
}

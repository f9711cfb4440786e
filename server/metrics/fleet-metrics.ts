/**
 * Fleet and rollout metrics, read from the database at scrape time so every replica
 * shows the same fleet-wide view: rollouts by state, and for each live rollout its
 * members by verdict and its phase. Polls are counted by this process.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { RolloutService } from '../domain/rollouts/rollout-service.js'

export function observeFleet(registry: Registry, rollouts: RolloutService): Counter<'result'> {
  new Gauge({
    name: 'slipway_rollout_devices',
    help: 'members of each running or paused rollout by verdict (healthy, failed, silent, pending)',
    labelNames: ['rollout', 'verdict'],
    registers: [registry],
    async collect() {
      this.reset()
      const live = await rollouts.list({ state: 'running', limit: 100 }).catch(() => [])
      const paused = await rollouts.list({ state: 'paused', limit: 100 }).catch(() => [])
      for (const r of [...live, ...paused]) {
        const v = await rollouts.view(r.id).catch(() => undefined)
        if (!v) continue
        for (const verdict of ['healthy', 'failed', 'silent', 'pending'] as const) this.set({ rollout: r.id, verdict }, v.totals[verdict])
      }
    },
  })
  new Gauge({
    name: 'slipway_rollouts',
    help: 'rollouts by state (newest 500 of each)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset()
      for (const state of ['draft', 'running', 'paused', 'completed', 'aborted', 'rolled_back'] as const)
        this.set({ state }, (await rollouts.list({ state, limit: 500 }).catch(() => [])).length)
    },
  })
  return new Counter({ name: 'slipway_device_polls_total', help: 'device polls by result: none (204), not-modified (304), assignment (200)', labelNames: ['result'], registers: [registry] })
}

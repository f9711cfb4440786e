/**
 * Delta metrics. Builds by result and their durations count the builds of this
 * process (the embedded server, or a `slipway worker`); delta counts by state and
 * the bytes saved come from the database, so every replica shows the fleet-wide view.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { DeltaService } from '../domain/deltas/delta-service.js'
import type { DeltaRepository } from '../domain/ports/repositories.js'

export function observeDeltas(registry: Registry, deltas: DeltaService, repo: DeltaRepository): void {
  const builds = new Counter({
    name: 'slipway_delta_builds_total',
    help: 'delta build tries by result: ready, too-large, failed, retry (a transient failure that will be retried)',
    labelNames: ['result'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'slipway_delta_build_duration_seconds',
    help: 'delta build wall time by result',
    labelNames: ['result'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [registry],
  })
  deltas.onBuildFinished((o) => {
    builds.inc({ result: o.result })
    duration.observe({ result: o.result }, o.seconds)
  })
  new Gauge({
    name: 'slipway_deltas',
    help: 'deltas by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await repo.summary().catch(() => undefined)
      if (s) for (const [state, n] of Object.entries(s.byState)) this.set({ state }, n)
    },
  })
  new Gauge({
    name: 'slipway_delta_saved_bytes',
    help: 'bytes one device saves per delta download, summed over ready deltas (target length − patch length)',
    registers: [registry],
    async collect() {
      const s = await repo.summary().catch(() => undefined)
      if (s) this.set(s.savedBytes)
    },
  })
}

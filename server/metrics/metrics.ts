/**
 * Prometheus metrics (prom-client), one registry per process (or per launched server in
 * tests). Built by the container for servers and workers alike, so what a `slipway
 * worker` does (delta builds, jobs) shows on its own /metrics (WORKER_PORT), and what is
 * read from the database or the queue shows the same on every process.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { DeltaService } from '../domain/deltas/delta-service.js'
import type { JobQueue } from '../domain/ports/infrastructure.js'
import type { DeltaRepository } from '../domain/ports/repositories.js'
import type { RolloutService } from '../domain/rollouts/rollout-service.js'
import { observeDeltas } from './delta-metrics.js'
import { observeFleet } from './fleet-metrics.js'

export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  uploadBytes: Counter
  downloadBytes: Counter
  /** device downloads refused past their budget (issue 10 §3: the exfiltration signal) */
  downloadBudgetExceeded: Counter
  /** device polls by result: none, not-modified, assignment */
  polls: Counter<'result'>
  /** integrity findings devices reported (issue 12 §4), by state and whether the release was known */
  integrityFindings: Counter<'state' | 'release_known'>
  /** job tries this process ran (server/workers/), by job name and result */
  jobRuns: Counter<'job' | 'result'>
}

export interface MetricSources {
  queue: JobQueue
  deltas: DeltaService
  deltaRepo: DeltaRepository
  rollouts: RolloutService
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'slipway_' })
  new Gauge({
    name: 'slipway_queue_jobs',
    help: 'jobs in the queue by job name and state',
    labelNames: ['job', 'state'],
    registers: [registry],
    async collect() {
      this.reset()
      const depth = await sources.queue.depth().catch(() => ({}))
      for (const [job, counts] of Object.entries(depth))
        for (const [state, n] of Object.entries(counts)) this.set({ job, state }, n)
    },
  })
  observeDeltas(registry, sources.deltas, sources.deltaRepo)
  const polls = observeFleet(registry, sources.rollouts)
  return {
    registry,
    polls,
    httpDuration: new Histogram({
      name: 'slipway_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    uploadBytes: new Counter({ name: 'slipway_upload_bytes_total', help: 'artifact bytes received through uploads', registers: [registry] }),
    downloadBytes: new Counter({ name: 'slipway_download_bytes_total', help: 'blob bytes served', registers: [registry] }),
    integrityFindings: new Counter({
      name: 'slipway_device_integrity_findings_total',
      help: 'integrity findings reported by devices: drift (a slot or model no longer hashes to its signed sha256) or timeout (a check ran out of its time budget)',
      labelNames: ['state', 'release_known'],
      registers: [registry],
    }),
    jobRuns: new Counter({
      name: 'slipway_job_runs_total',
      help: 'job tries run by this process, by job name and result: completed, or failed (the queue retries it while attempts remain)',
      labelNames: ['job', 'result'],
      registers: [registry],
    }),
    downloadBudgetExceeded: new Counter({
      name: 'slipway_device_download_budget_exceeded_total',
      help: 'device downloads refused because the device passed its download budget for a blob',
      registers: [registry],
    }),
  }
}

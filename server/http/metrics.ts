/** Prometheus metrics (prom-client), one registry per app so tests can build several. */
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { JobQueue } from '../domain/ports.js'

export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  uploadBytes: Counter
  downloadBytes: Counter
  /** device downloads refused past their budget (issue 10 §3: the exfiltration signal) */
  downloadBudgetExceeded: Counter
}

export function createMetrics(queue: JobQueue): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'slipway_' })
  new Gauge({
    name: 'slipway_queue_jobs',
    help: 'jobs in the queue by job name and state',
    labelNames: ['job', 'state'],
    registers: [registry],
    async collect() {
      this.reset()
      const depth = await queue.depth().catch(() => ({}))
      for (const [job, counts] of Object.entries(depth))
        for (const [state, n] of Object.entries(counts)) this.set({ job, state }, n)
    },
  })
  return {
    registry,
    httpDuration: new Histogram({
      name: 'slipway_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    uploadBytes: new Counter({ name: 'slipway_upload_bytes_total', help: 'artifact bytes received through uploads', registers: [registry] }),
    downloadBytes: new Counter({ name: 'slipway_download_bytes_total', help: 'blob bytes served', registers: [registry] }),
    downloadBudgetExceeded: new Counter({
      name: 'slipway_device_download_budget_exceeded_total',
      help: 'device downloads refused because the device passed its download budget for a blob',
      registers: [registry],
    }),
  }
}

export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
}

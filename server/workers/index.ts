/**
 * Job processors: thin functions that call one service each. Registered by the
 * server in embedded mode (in-process queue) and by `slipway worker` with Redis.
 * Every try is counted in the process's metrics (slipway_job_runs_total), so a
 * worker's /metrics shows what it ran.
 */
import { JOBS, type JobHandler, type JobName } from '../domain/index.js'
import type { Services } from '../services.js'

/** How often staged uploads past their expiry are reclaimed. */
const RECLAIM_EVERY_MS = 15 * 60 * 1000
/** How often download-ledger rows that left every budget window are deleted. */
const PRUNE_DOWNLOADS_EVERY_MS = 60 * 60 * 1000

export async function registerWorkers(services: Services): Promise<void> {
  const { queue, uploads, rollouts, config, deltas, downloads, metrics } = services
  const handle = <T>(name: JobName, run: JobHandler<T>, opts?: { concurrency?: number }) =>
    queue.handle<T>(
      name,
      async (job) => {
        try {
          await run(job)
        } catch (e) {
          // the try failed; the queue decides whether it is retried
          metrics.jobRuns.inc({ job: name, result: 'failed' })
          throw e
        }
        metrics.jobRuns.inc({ job: name, result: 'completed' })
      },
      opts,
    )
  handle(JOBS.reclaimUploads, async () => {
    await uploads.reclaimExpired()
  })
  handle<{ rolloutId: string }>(
    JOBS.evaluateRollout,
    async (job) => {
      await rollouts.evaluate(job.data.rolloutId)
    },
    { concurrency: 4 },
  )
  // soak times and silent deadlines pass without any report: look at every running rollout
  handle(JOBS.rolloutsTick, async () => {
    for (const r of await rollouts.running()) await rollouts.evaluate(r.id)
  })
  await queue.every(JOBS.reclaimUploads, RECLAIM_EVERY_MS)
  await queue.every(JOBS.rolloutsTick, config.rolloutTickSeconds * 1000)
  handle(JOBS.pruneDownloads, async () => {
    await downloads.prune()
  })
  await queue.every(JOBS.pruneDownloads, PRUNE_DOWNLOADS_EVERY_MS)
  // one build at a time per process: a build already uses every core and the whole memory budget
  handle<{ sourceSha256: string; targetSha256: string }>(JOBS.buildDelta, (job) => deltas.build(job.data, job.attempt))
  handle<{ releaseId: string }>(JOBS.planDeltas, async (job) => {
    await deltas.plan(job.data.releaseId)
  })
}

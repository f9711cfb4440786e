/**
 * Metrics come from the container, so a `slipway worker` counts what it runs: after a
 * job ran through the processors of server/workers/, the worker's /metrics (the same
 * registry the container built) shows it in slipway_job_runs_total.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config.js'
import { createContainer } from '../../server/container.js'
import { JOBS } from '../../server/domain/jobs.js'
import { buildWorkerApp } from '../../server/http/worker-app.js'
import { registerWorkers } from '../../server/workers/index.js'

t.test("a worker's /metrics counts the jobs it ran, by name and result", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-worker-metrics-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const container = await createContainer(loadConfig({ SLIPWAY_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' }), { deviceCa: false })
  t.teardown(() => container.close())
  const app = await buildWorkerApp(container, false)
  t.teardown(() => app.close())
  await registerWorkers(container)
  await container.queue.start()
  const id = await container.queue.enqueue(JOBS.pruneDownloads, {})
  for (let i = 0; i < 200 && (await container.queue.status(id, JOBS.pruneDownloads))?.state !== 'completed'; i++) await new Promise((r) => setTimeout(r, 25))
  t.equal((await container.queue.status(id, JOBS.pruneDownloads))?.state, 'completed', 'the job ran')
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  const line = res.body.split('\n').find((l) => l.startsWith(`slipway_job_runs_total{job="${JOBS.pruneDownloads}",result="completed"}`))
  t.ok(line, 'the counter has a line for the job')
  t.ok(Number(line?.split(' ').pop()) >= 1, `counted: ${line}`)
  t.match(res.body, /# HELP slipway_job_runs_total /)
})

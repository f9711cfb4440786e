/**
 * Deltas in the scale-out deployment: PostgreSQL (fresh database), BullMQ on Redis
 * (random key prefix), S3 (s3rver), the API server enqueues and a separate
 * `slipway worker` process builds (streaming both images from S3 to temp files).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta } from '../../client-sdk/src/delta/index.js'
import { call, sha256 } from '../helpers/api.js'
import { slipway, waitForOutput } from '../helpers/cli.js'
import { imagePair, pushRelease, waitForDelta } from '../helpers/deltas.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer } from '../helpers/server.js'

t.test('a worker process builds a requested delta on Postgres + Redis + S3', async (t) => {
  const services = await scaleOutEnv(t, { s3: true })
  const dir = await mkdtemp(join(tmpdir(), 'slipway-delta-e2e-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = {
    ...services,
    SLIPWAY_UPLOAD_DIR: join(dir, 'uploads'),
  }
  const srv = await startServer(env)
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(1024 * 1024)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })

  const [a, b] = await Promise.all([
    call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id }),
    call(srv, ci, 'POST', '/v1/deltas', { from: 'rootfs@1.0.0', to: 'rootfs@1.1.0' }),
  ])
  t.equal(a.status, 202)
  t.equal(b.json.id, a.json.id, 'one delta for both requests')
  const queued = await call(srv, op, 'GET', `/v1/deltas/${a.json.id}`)
  t.equal(queued.json.state, 'queued', 'the API server does not build: no worker runs yet')

  const workDir = join(dir, 'worker-work')
  const worker = slipway(['worker'], {
    ...env,
    LOG_LEVEL: 'info',
    WORKER_PORT: '0',
    SLIPWAY_DATA_DIR: join(dir, 'worker-data'),
    SLIPWAY_DELTA_WORK_DIR: workDir,
    SLIPWAY_ONLINE_KEY_FILE: join(srv.config.keys.dir, 'online.pem'),
  })
  t.teardown(() => worker.child.kill('SIGKILL'))
  const started = await waitForOutput(worker.child, (s) => /"url":"http:[^"]+".*worker started/.test(s), 60_000)
  const workerUrl = /"url":"(http:[^"]+)"/.exec(started)![1]!
  t.same(await (await fetch(`${workerUrl}/healthz`)).json(), { status: 'ok' }, 'the worker answers /healthz on WORKER_PORT')
  const done = await waitForDelta(srv, op, a.json.id, ['ready', 'too-large', 'failed'], 120_000)
  t.match(done, { state: 'ready', attempts: 1, offered: true, error: null }, JSON.stringify(done.error))

  // the patch is in S3: the server redirects to a presigned URL, as for any blob
  const redirect = await fetch(`${srv.url}/v1/blobs/${done.patchSha256}`, { headers: { authorization: `Bearer ${op}` }, redirect: 'manual' })
  t.equal(redirect.status, 302)
  const patch = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer())
  t.equal(sha256(patch), done.patchSha256)
  await writeFile(join(dir, 'source'), source)
  await writeFile(join(dir, 'patch'), patch)
  await applyDelta(join(dir, 'source'), join(dir, 'patch'), join(dir, 'target'), { expectedTargetSha256: v2.sha256 })
  t.ok((await readFile(join(dir, 'target'))).equals(target), 'the patch rebuilds the target')
  t.same(await readdir(workDir), [], 'the worker removed its temp copies of the S3 images')

  const metrics = (await call(srv, undefined, 'GET', '/metrics')).raw.toString('utf8')
  t.match(metrics, /slipway_deltas\{state="ready"\} 1\b/, 'every replica reports delta states from the database')

  // what the worker did shows on its own /metrics: the build it ran, the queue it serves
  const workerMetrics = await (await fetch(`${workerUrl}/metrics`)).text()
  t.match(workerMetrics, /slipway_delta_builds_total\{result="ready"\} 1\b/, 'the worker counts its build')
  t.match(workerMetrics, /slipway_delta_build_duration_seconds_count\{result="ready"\} 1\b/)
  t.match(workerMetrics, /slipway_queue_jobs\{job="build-delta",state="waiting"\} 0\b/, 'queue depth from Redis')
  t.match(workerMetrics, /slipway_deltas\{state="ready"\} 1\b/)
  t.notMatch(metrics, /slipway_delta_builds_total\{result="ready"\}/, 'the API server built nothing')

  worker.child.kill('SIGTERM')
  const exit = await worker.done
  t.equal(exit.code, 0, `worker stops cleanly: ${exit.stderr}`)
})

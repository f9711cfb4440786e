/**
 * Issue 11: a transition reaches every replica's decision cache at once. Two server
 * replicas and a `slipway worker` on PostgreSQL + Redis, with the caches' fallback
 * expiry set to 10 minutes (SLIPWAY_ROLLOUT_CACHE_MS), so only the change bus can
 * explain a replica that stops offering a paused release. A device that never polled
 * asks replica B right after the worker paused the rollout (and after replica A's
 * operator action): B must not tell it to install.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { call } from '../helpers/api.js'
import { slipway, waitForOutput } from '../helpers/cli.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, publish } from '../helpers/fleet.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer } from '../helpers/server.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

t.test('two replicas and a worker: a pause reaches the other replica without waiting for the cache', async (t) => {
  const env = { ...(await scaleOutEnv(t)), SLIPWAY_ROLLOUT_CACHE_MS: '600000', SLIPWAY_ROLLOUT_TICK_SECONDS: '3600' }
  const a = await startServer(env)
  t.teardown(() => a.close())
  const onlineKey = { SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem') }
  const b = await startServer({ ...env, ...onlineKey })
  t.teardown(() => b.close())
  const worker = slipway(['worker'], { ...env, ...onlineKey, LOG_LEVEL: 'info', SLIPWAY_DATA_DIR: join(a.config.dataDir, 'worker') })
  t.teardown(() => worker.child.kill('SIGKILL'))
  await waitForOutput(worker.child, (text) => text.includes('worker started'), 60_000)

  const op = await a.token('operator')
  const rel = await publish(a, { version: '3.0.0' })
  const token = await enrollmentToken(a, 'lab')
  const [failing, warm, fresh, fresh2] = await Promise.all([enroll(a, token), enroll(a, token), enroll(a, token), enroll(a, token)])
  const created = await call(a, op, 'POST', '/v1/rollouts', {
    release: `${rel.name}@${rel.version}`,
    phases: [{ percent: 100, minDevices: 100, soakSeconds: 0 }],
    gate: { minSample: 1, maxFailures: 1 },
    breachAction: 'pause',
    start: true,
  })
  t.equal(created.status, 201)
  const rolloutId = created.json.rollout.id

  // both replicas cache the running rollout
  t.equal((await deviceCall(a, failing, 'GET', '/v1/device/update')).status, 200)
  t.equal((await deviceCall(b, warm, 'GET', '/v1/device/update')).status, 200, 'replica B offers the release while it runs')

  // the failure crosses the gate; the worker pauses the rollout
  const failed = await deviceCall(a, failing, 'POST', '/v1/device/events', {
    events: [{ id: randomUUID(), seq: 1, rolloutId, release: { name: rel.name, version: rel.version }, state: 'failed', reason: { code: 'BOOT', message: 'no boot' } }],
  })
  t.equal(failed.json.accepted, 1)
  const deadline = Date.now() + 30_000
  while ((await call(b, op, 'GET', `/v1/rollouts/${rolloutId}`)).json.rollout.state !== 'paused') {
    if (Date.now() > deadline) throw new Error(`the worker did not pause the rollout: ${JSON.stringify((await call(b, op, 'GET', `/v1/rollouts/${rolloutId}`)).json)}`)
    await sleep(20)
  }
  // the notice travels through Redis: allow it a moment on a loaded machine, far below the 10 min expiry
  const seen = Date.now()
  let status = 0
  while ((status = (await deviceCall(b, fresh, 'GET', '/v1/device/update')).status) !== 204 && Date.now() - seen < 5000) await sleep(20)
  t.equal(status, 204, `replica B stopped offering within ${Date.now() - seen} ms of the pause (fallback expiry: 10 min)`)

  // and the other way: an operator action on replica A reaches replica B
  t.equal((await call(a, op, 'POST', `/v1/rollouts/${rolloutId}/resume`, { reason: 'false alarm' })).status, 200)
  const resumed = Date.now()
  while ((status = (await deviceCall(b, fresh2, 'GET', '/v1/device/update')).status) !== 200 && Date.now() - resumed < 5000) await sleep(20)
  t.equal(status, 200, 'replica B offers again once replica A resumed the rollout')
})

/**
 * The deployed topology, run for real without Docker (test/helpers/stack.ts): nginx
 * with deploy/nginx.conf (TLS), two replicas, a worker, PostgreSQL, Redis, s3rver.
 * CI pushes a 300 MiB release (S3 multipart through nginx), a worker killed with
 * SIGKILL mid-delta-build is replaced and the other worker finishes the build, devices
 * download through presigned URLs, and a replica killed with SIGKILL mid-rollout
 * leaves the devices carrying on through the other: nothing lost, nothing twice.
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { call, sha256 } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { imagePair } from '../helpers/deltas.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, type EnrolledDevice } from '../helpers/fleet.js'
import { mapLimit } from '../helpers/fleet-sim.js'
import { startStack } from '../helpers/stack.js'
import type { TestServer } from '../helpers/server.js'

const MiB = 1024 * 1024
const DEVICES = 40

/** A device request as the agent makes it: retried on 502/503 (a replica went away) — safe, every report is idempotent by id. */
async function device(srv: { url: string }, d: EnrolledDevice, method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  for (let i = 0; ; i++) {
    const r = await deviceCall(srv, d, method, path, body, headers).catch((e: Error) => ({ status: 599, error: e }) as const)
    // nginx retries an idempotent request on the other replica when one dies mid-request; if
    // the dead one had spent the signature's nonce, the retry is refused as a replay: a new
    // signature (as the agent sends) goes through
    const replayed = !('error' in r) && r.status === 401 && r.json?.error?.code === 'DEVICE_SIGNATURE_REPLAYED'
    if (!('error' in r) && r.status !== 502 && r.status !== 503 && !replayed) return r
    if (i === 20) throw new Error(`${method} ${path}: gave up after retries (${r.status})`)
    await new Promise((res) => setTimeout(res, 250))
  }
}

t.test('the compose topology on this machine: push, delta build with a worker killed, rollout with a replica killed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-stack-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const t0 = Date.now()
  const mark = (what: string) => t.comment(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const stack = await startStack(dir)
  mark('stack up')
  t.teardown(() => stack.stop())
  const srv = { url: stack.url } as TestServer
  const token = async (role: string) => (await call(srv, stack.adminToken, 'POST', '/v1/tokens', { role, label: role })).json.token as string
  const ci = await token('ci')
  const op = await token('operator')
  const ready = await call(srv, undefined, 'GET', '/readyz')
  t.equal(ready.status, 200, 'readyz through nginx over TLS')

  const push = async (file: string, name: string, version: string, kind = 'os-image') => {
    const r = await slipway(['push', file, '--name', name, '--version', version, '--kind', kind, '--hardware', 'rpi5'], {
      SLIPWAY_URL: stack.url,
      SLIPWAY_TOKEN: ci,
      SLIPWAY_RELEASE_KEY: stack.releaseKey,
      SLIPWAY_CLI_STATE: join(dir, 'cli-state'),
      NODE_EXTRA_CA_CERTS: stack.tls.serverCert,
    }).done
    t.equal(r.code, 0, `push ${name}@${version}: ${r.stderr}`)
    const found = await call(srv, ci, 'GET', `/v1/releases?name=${name}`)
    return (found.json.releases as any[]).find((x) => x.version === version)
  }

  // 1. a 300 MiB model through nginx: S3 multipart parts written by both replicas
  const big = join(dir, 'model.gguf')
  const fh = await open(big, 'w')
  const h = createHash('sha256')
  for (let i = 0; i < 300; i++) {
    const chunk = randomBytes(MiB)
    h.update(chunk)
    await fh.write(chunk)
  }
  await fh.close()
  const model = await push(big, 'llm-model', '1.0.0', 'model')
  t.equal(model.length, 300 * MiB)
  t.equal(model.sha256, h.digest('hex'), 'the 300 MiB release holds the pushed bytes')
  const redirect = await fetch(`${stack.url}/v1/blobs/${model.sha256}`, { headers: { authorization: `Bearer ${ci}` }, redirect: 'manual' })
  t.equal(redirect.status, 302, 'downloads go to S3 through a presigned URL')
  const fromS3 = createHash('sha256')
  for await (const c of (await fetch(redirect.headers.get('location')!)).body!) fromS3.update(c as Uint8Array)
  t.equal(fromS3.digest('hex'), model.sha256, 'the presigned URL serves the whole model')
  await rm(big)
  mark('300 MiB pushed and downloaded')
  const db = new pg.Client({ connectionString: stack.env.DATABASE_URL })
  await db.connect()
  t.teardown(() => db.end())
  t.equal((await db.query('SELECT count(*)::int AS n FROM multipart_uploads')).rows[0].n, 0, 'the bound upload left the ledger')

  // 2. a delta build on the worker; the worker is killed mid-build, another finishes it
  const { source, target } = imagePair(24 * MiB)
  await writeFile(join(dir, 'v1'), source)
  await writeFile(join(dir, 'v2'), target)
  const v1 = await push(join(dir, 'v1'), 'edge-os', '1.0.0')
  const et = (await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'field', maxUses: 1000, ttlSeconds: 3600 })).json.token
  const devices = await mapLimit(Array.from({ length: DEVICES }), 8, () =>
    enroll(srv, et, { installed: [{ name: 'edge-os', version: '1.0.0', sha256: v1.sha256, securityVersion: v1.securityVersion }] }),
  )
  const v2 = await push(join(dir, 'v2'), 'edge-os', '1.1.0')
  const asked = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.ok([200, 202].includes(asked.status), 'delta requested')
  const deltaId = asked.json.id
  const deltaState = async () => (await call(srv, op, 'GET', `/v1/deltas/${deltaId}`)).json
  let seen = await deltaState()
  for (const until = Date.now() + 120_000; seen.state === 'queued' && Date.now() < until; seen = await deltaState()) await new Promise((r) => setTimeout(r, 50))
  t.equal(seen.state, 'building', 'the worker started the build')
  await stack.kill9(stack.workers[0]!)
  t.equal((await deltaState()).state, 'building', 'killed mid-build')
  const second = await stack.startWorker()
  for (const until = Date.now() + 180_000; !['ready', 'failed', 'too-large'].includes(seen.state) && Date.now() < until; seen = await deltaState())
    await new Promise((r) => setTimeout(r, 500))
  t.match(seen, { state: 'ready', offered: true }, `the other worker finished the build: ${JSON.stringify(seen.error)}`)
  mark('delta built by the second worker')
  const metrics = await (await fetch(`${second.url}/metrics`)).text()
  t.match(metrics, /slipway_delta_builds_total\{result="ready"\} 1\b/, 'the second worker counts the build it finished')

  // 3. a rollout; devices download the delta through presigned URLs; server-1 is killed halfway
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'edge-os@1.1.0',
    phases: [{ percent: 100, minDevices: DEVICES, soakSeconds: 0 }],
    gate: { maxFailureRate: 0.5, minSample: 5, confidence: 0.9, silentAfterSeconds: 600 },
    reason: 'stack test',
    start: true,
  })
  t.equal(created.status, 201, JSON.stringify(created.json))
  const rolloutId = created.json.rollout.id
  let installed = 0
  let killed = false
  const received = new Map<string, number>()
  await mapLimit(devices, 8, async (d) => {
    const poll = await device(srv, d, 'GET', '/v1/device/update')
    if (poll.status !== 200) throw new Error(`poll: ${poll.status}`)
    const a = poll.json.assignment.signed
    received.set(d.deviceId, (received.get(d.deviceId) ?? 0) + 1)
    const patchUrl: string = poll.json.patch.url
    const seq = { n: 0 }
    const release = { name: a.release.name, version: a.release.version }
    const ev = (state: string) => ({ id: randomUUID(), seq: ++seq.n, rolloutId: a.rolloutId, release, state })
    const send = async (state: string) => {
      const r = await device(srv, d, 'POST', '/v1/device/events', { events: [ev(state)] })
      if (r.status !== 200) throw new Error(`events: ${r.status} ${JSON.stringify(r.json)}`)
    }
    await send('downloading')
    // through the presigned URL the server redirects to (fetch follows it)
    const patch = await device(srv, d, 'GET', patchUrl)
    if (patch.status !== 200 || sha256(patch.raw) !== seen.patchSha256) throw new Error(`patch download: ${patch.status} ${String(patch.raw).slice(0, 300)}`)
    await send('installing')
    await send('rebooting')
    await send('health-checking')
    const health = { id: randomUUID(), seq: ++seq.n, rolloutId: a.rolloutId, release, bootOk: true, checks: [{ name: 'unit:llm-app', ok: true }], metrics: {} }
    if ((await device(srv, d, 'POST', '/v1/device/health', health)).status !== 200) throw new Error('health')
    await send('succeeded')
    if (++installed === DEVICES / 2 && !killed) {
      killed = true
      await stack.kill9(stack.replicas[0]!)
    }
  })
  mark('rollout installed')
  t.ok(killed, 'server-1 was killed with SIGKILL halfway through')
  t.same([...received.values()].filter((n) => n !== 1), [], 'every device got its assignment exactly once')
  let r: any
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((res) => setTimeout(res, 500))) {
    r = (await call(srv, op, 'GET', `/v1/rollouts/${rolloutId}`)).json
    if (r.rollout.state === 'completed') break
  }
  t.equal(r.rollout.state, 'completed', 'the rollout completed through the surviving replica and worker')
  t.equal(r.totals.assigned, DEVICES)
  t.equal(r.totals.healthy, DEVICES, 'every device counted healthy once')
  const twice = await db.query(
    `SELECT device_id, body::json->>'state' AS state, count(*)::int AS n FROM device_reports WHERE rollout_id = $1 AND kind = 'event' GROUP BY 1, 2 HAVING count(*) > 1`,
    [rolloutId],
  )
  t.same(twice.rows, [], 'no report stored twice')
  const succeeded = await db.query(`SELECT count(DISTINCT device_id)::int AS n FROM device_reports WHERE rollout_id = $1 AND body::json->>'state' = 'succeeded'`, [rolloutId])
  t.equal(succeeded.rows[0].n, DEVICES, 'no report lost')
})

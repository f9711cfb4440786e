/**
 * Power cut anywhere on the model-delta path (issue 12 §1): the bundled agent
 * process is SIGKILLed at every step of a model update through a delta the real
 * embedded server built (patch download, patch ready, in the middle of the
 * apply, written, swapped), then restarted until it settles. After every kill
 * the app's `current` link resolves to a complete model that hashes to its
 * manifest (the old one or the new one, never a half-written one), and the
 * server lists the new version only once the journal committed it. At the end:
 * the new model is live, the update was a delta, every report delivered.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { call } from '../../helpers/api.js'
import { imagePair, pushRelease, waitForDelta, type PushedRelease } from '../../helpers/deltas.js'
import { enrollmentToken } from '../../helpers/fleet.js'
import { startServer, type TestServer } from '../../helpers/server.js'
import { ModelStore } from '../../../client-sdk/src/models/index.js'
import type { Release } from '../../../signing/metadata/release.js'
import { buildBundle } from './bundle.js'
import { simDevice } from './device-fixtures.js'
import { processDevice } from './process-device.js'

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const POINTS = ['downloading', 'checkpoint:1', 'patch-ready', 'apply-checkpoint:1', 'apply-checkpoint:2', 'written', 'activated']

interface Fleet {
  srv: TestServer
  op: string
  token: string
  root: Buffer
  m1: Buffer
  m2: Buffer
  v1: PushedRelease
  v2: PushedRelease
}

async function killAt(t: Test, bundle: string, point: string, f: Fleet) {
  const modelsDir = await mkdtemp(join(tmpdir(), 'kill-models-'))
  t.teardown(() => rm(modelsDir, { recursive: true, force: true }))
  const store = new ModelStore({ dir: join(modelsDir, 'llm') })
  await store.install('a', (async function* () {
    yield f.m1
  })(), { sha256: f.v1.sha256, name: 'llm', version: '1.0.0' })
  await store.activate('a')
  const os = Buffer.alloc(4096, 7)
  const installed = { name: 'rootfs', version: '1.0.0', sha256: hash(os), length: os.length, securityVersion: 1 } as Release
  const sim = await simDevice(t, { url: f.srv.url, trust: { root: f.root } }, {
    imageA: os,
    installed,
    enrolled: false,
    config: {
      hardwareId: `kill-model-${point}`,
      models: { dir: modelsDir, smoke: { argv: ['sh', '-c', 'test -s "$SLIPWAY_MODEL_PATH"'] } },
      download: { retries: 0, retryDelayMs: 10, maxAttempts: 3, checkpointBytes: 1 },
    },
  })
  const deviceId = (await sim.agent.enroll(f.token)).deviceId
  sim.agent.close()
  const serverVersion = async () => (await call(f.srv, f.op, 'GET', `/v1/devices/${deviceId}`)).json.installed.find((i: any) => i.name === 'llm')?.version
  t.equal(await serverVersion(), '1.0.0', 'enrolled with the provisioned model')
  const dev = await processDevice(bundle, sim.dir, sim.config, sim.slotsDir)

  let killed = 0
  for (let round = 0; round < 8; round++) {
    const r = await dev.round(killed === 0 ? { SLIPWAY_AGENT_FAILPOINT: point } : {})
    if (r.signal === 'SIGKILL') killed++
    else t.equal(r.code, 0, `round ${round} exits cleanly: ${r.stderr.slice(-300)}`)
    // invariant after every stop: what the app opens is a complete model that hashes to its manifest
    const live = await readFile(store.currentPath())
    const st = await store.status()
    t.equal(hash(live), st.slots[st.current!]?.sha256, `round ${round}: the live model is complete`)
    t.ok([f.v1.sha256, f.v2.sha256].includes(hash(live)), `round ${round}: and it is one of the two signed models`)
    const j = await dev.journal()
    if ((await serverVersion()) === '2.0.0') t.equal(j.update?.step, 'committed', `round ${round}: server shows 2 only after the commit`)
    if (r.signal === null && j.update?.step === 'committed') break
  }
  t.equal(killed, 1, `the agent was killed at ${point}`)
  const j = await dev.journal()
  t.match(j.update, { step: 'committed', mode: 'delta' })
  t.ok((await readFile(store.currentPath())).equals(f.m2), 'the new model is live')
  t.equal(await serverVersion(), '2.0.0', 'the server agrees on what runs')
  t.same((await readdir(join(sim.config.dataDir, 'outbox'))).filter((n) => n !== 'seq.json'), [], 'every report delivered')
}

t.test('kill at every step of a model delta', async (t) => {
  const { path: bundle } = await buildBundle(t)
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source: m1, target: m2 } = imagePair(3 * 1024 * 1024)
  const model = { name: 'llm', kind: 'model', hardware: ['rpi4'] }
  const v1 = await pushRelease(srv, ci, m1, { ...model, version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, m2, { ...model, version: '2.0.0' })
  const asked = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.equal((await waitForDelta(srv, op, asked.json.id, ['ready', 'too-large', 'failed'])).state, 'ready')
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'llm@2.0.0',
    selector: { group: 'killm' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { minSample: 1000, maxFailures: 1000 },
    start: true,
    // the devices enroll after the rollout exists
    allowEmpty: true,
    reason: 'kill test',
  })
  t.equal(created.status, 201, JSON.stringify(created.json?.error ?? ''))
  const f: Fleet = { srv, op, token: await enrollmentToken(srv, 'killm'), root: (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw, m1, m2, v1, v2 }
  for (const point of POINTS) await t.test(`model delta, killed at ${point}`, (t) => killAt(t, bundle, point, f))
  const totals = (await call(srv, op, 'GET', `/v1/rollouts/${created.json.rollout.id}`)).json.totals
  t.equal(totals.healthy, POINTS.length, `rollout: every model update counted healthy once ${JSON.stringify(totals)}`)
})

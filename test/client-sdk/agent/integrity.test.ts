/**
 * Issue 12 §4 end to end over real HTTP: the agent re-hashes its active slot and its
 * live model; one flipped byte in each is reported as drift with the first differing
 * MiB, and the server flags the device (view, list filter, audit), quarantining it
 * under SLIPWAY_INTEGRITY_QUARANTINE. A check past its time budget reports
 * integrity-timeout, never success.
 */
import { open, readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ModelStore } from '../../../client-sdk/src/models/index.js'
import type { Release } from '../../../signing/metadata/release.js'
import { call } from '../../helpers/api.js'
import { pushRelease } from '../../helpers/deltas.js'
import { enrollmentToken } from '../../helpers/fleet.js'
import { startServer } from '../../helpers/server.js'
import { simDevice } from './device-fixtures.js'

const MiB = 1024 * 1024

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, at)
    b[0] = b[0]! ^ 0xff
    await fh.write(b, 0, 1, at)
  } finally {
    await fh.close()
  }
}

async function setup(t: Test, env: Record<string, string>) {
  const srv = await startServer(env)
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const imageA = randomBytes(3 * MiB)
  const modelBytes = randomBytes(2 * MiB + 100)
  const v1 = await pushRelease(srv, ci, imageA, { name: 'rootfs', version: '1.0.0', hardware: ['rpi4'] })
  const m1 = await pushRelease(srv, ci, modelBytes, { name: 'llm', version: '1.0.0', kind: 'model', hardware: ['rpi4'] })
  const root = (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw
  const installed = { name: 'rootfs', version: '1.0.0', sha256: v1.sha256, length: v1.length, securityVersion: 1 } as Release
  const sim = await simDevice(t, { url: srv.url, trust: { root } }, { imageA, installed, enrolled: false, config: { hardwareId: 'integrity-1', integrityIntervalSeconds: 0 } })
  // a model provisioned at the factory: a store with a current link, adopted at start
  const modelsDir = join(sim.dir, 'models')
  const store = new ModelStore({ dir: join(modelsDir, 'llm') })
  await store.install('a', await writeTemp(sim.dir, modelBytes), { sha256: m1.sha256, length: modelBytes.length, name: 'llm', version: '1.0.0' })
  await store.activate('a')
  sim.config.models = { dir: modelsDir }
  await sim.powerCycle()
  const { deviceId } = await sim.agent.enroll(await enrollmentToken(srv, 'integrity'))
  const clean = await sim.agent.checkIntegrity()
  t.same(
    clean.map((r) => `${r.target.target}:${r.target.release.name}:${r.state}`),
    ['os:rootfs:ok', 'model:llm:ok'],
    'both intact (their per-MiB hashes are recorded now)',
  )
  return { srv, op, sim, store, deviceId, v1, m1 }
}

t.test('a flipped byte in the slot and in the model: drift with the first differing MiB, flagged on the server', async (t) => {
  const { srv, op, sim, store, deviceId, v1, m1 } = await setup(t, {})
  // a timeout first: a budget of 0 s can never finish
  sim.config.integrityBudgetSeconds = 0
  await sim.powerCycle()
  const late = await sim.agent.checkIntegrity()
  t.same(late.map((r) => r.state), ['timeout'], 'a check past its budget says so (never success) and stops')
  let shown = (await call(srv, op, 'GET', `/v1/devices/${deviceId}`)).json
  t.match(shown.integrity, [{ state: 'timeout', releaseKnown: true }])
  t.same((await call(srv, op, 'GET', '/v1/devices?integrity=drift')).json.devices, [], 'not drift')

  sim.config.integrityBudgetSeconds = 600
  await sim.powerCycle()
  await flipByte(join(sim.slotsDir, 'slot-a.img'), Math.floor(1.5 * MiB))
  await flipByte(store.currentPath(), 2 * MiB + 7)
  const drift = await sim.agent.checkIntegrity()
  t.match(drift, [
    { state: 'drift', finding: { target: 'os', release: { name: 'rootfs', version: '1.0.0' }, sha256: v1.sha256, firstDifferingMiB: 1, checkedBytes: 3 * MiB } },
    { state: 'drift', finding: { target: 'model', release: { name: 'llm', version: '1.0.0' }, sha256: m1.sha256, firstDifferingMiB: 2 } },
  ])
  shown = (await call(srv, op, 'GET', `/v1/devices/${deviceId}`)).json
  t.match(shown.integrity, [
    { state: 'drift', reports: 2, releaseKnown: true, lastReport: { integrity: { target: 'model', firstDifferingMiB: 2 } } },
    { state: 'timeout', reports: 1 },
  ])
  t.match(shown.securityEvents, [{ kind: 'integrity', code: 'INTEGRITY_DRIFT' }, { kind: 'integrity', code: 'INTEGRITY_DRIFT' }, { kind: 'integrity-timeout' }])
  t.notOk(shown.quarantinedAt, 'without the policy: flagged, not quarantined')
  const listed = (await call(srv, op, 'GET', '/v1/devices?integrity=drift')).json.devices.map((d: { id: string }) => d.id)
  t.same(listed, [deviceId], 'the list filter finds it')
  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${deviceId}`)).json.entries.map((e: { action: string }) => e.action)
  t.same(audit.filter((a: string) => a.startsWith('device.integrity')), ['device.integrity-timeout', 'device.integrity-drift', 'device.integrity-drift'])
})

t.test('with SLIPWAY_INTEGRITY_QUARANTINE=true, drift quarantines the device', async (t) => {
  const { srv, op, sim, deviceId } = await setup(t, { SLIPWAY_INTEGRITY_QUARANTINE: 'true' })
  await flipByte(join(sim.slotsDir, 'slot-a.img'), 10)
  const drift = await sim.agent.checkIntegrity()
  t.match(drift, [{ state: 'drift', finding: { target: 'os', firstDifferingMiB: 0 } }, { state: 'ok' }])
  const shown = (await call(srv, op, 'GET', `/v1/devices/${deviceId}`)).json
  t.ok(shown.quarantinedAt, 'quarantined')
  t.match(shown.quarantineReason, /integrity drift in os rootfs@1\.0\.0 \(first differing MiB 0\)/)
  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${deviceId}`)).json.entries
  t.match(audit.find((e: { action: string }) => e.action === 'device.quarantine'), { actor: 'system:integrity' }, 'audited as the integrity policy')
})

async function writeTemp(dir: string, bytes: Buffer): Promise<string> {
  const { writeFile } = await import('node:fs/promises')
  const p = join(dir, 'model-src.bin')
  await writeFile(p, bytes)
  await readFile(p)
  return p
}

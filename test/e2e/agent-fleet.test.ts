/**
 * Three real agents (library, file-backed slots, simulated firmware reboots; one
 * enrolled through the bundled `slipway-agent enroll` CLI)
 * against the real embedded server: enrolled with an enrollment token, one
 * rollout created and started through the management API. One device takes the
 * full image, one the delta the server built, one fails its health check and
 * rolls back locally, which the rollout engine counts as a failure.
 */
import t from 'tap'
import { call } from '../helpers/api.js'
import { imagePair, pushRelease, waitForDelta } from '../helpers/deltas.js'
import { enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'
import { simDevice, type SimDevice } from '../client-sdk/agent/device-fixtures.js'
import type { Release } from '../../signing/metadata/release.js'
import { buildBundle } from '../client-sdk/agent/bundle.js'
import { execFile } from 'node:child_process'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

t.test('full update, delta update, and a health-check rollback, end to end', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(2 * 1024 * 1024)
  const v1 = await pushRelease(srv, ci, source, { name: 'rootfs', version: '1.0.0', hardware: ['rpi4'] })
  const v2 = await pushRelease(srv, ci, target, { name: 'rootfs', version: '1.1.0', hardware: ['rpi4'] })
  const asked = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.ok([200, 202].includes(asked.status), JSON.stringify(asked.json))
  const built = await waitForDelta(srv, op, asked.json.id, ['ready', 'too-large', 'failed'])
  t.equal(built.state, 'ready', 'the server built a delta worth offering')

  const root = (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw
  const server = { url: srv.url, trust: { root } }
  const installed = { name: 'rootfs', version: '1.0.0', sha256: v1.sha256, length: v1.length, securityVersion: 1 } as Release
  const token = await enrollmentToken(srv, 'e2e')
  const make = async (name: string, config: Parameters<typeof simDevice>[2]['config']) => {
    const d = await simDevice(t, server, { imageA: source, installed, enrolled: false, config: { hardwareId: `pi-${name}`, ...config } })
    await d.agent.enroll(token)
    return d
  }
  // the first device enrolls the way an installer does: the bundled CLI with the token
  const bundle = await buildBundle(t)
  const full = await simDevice(t, server, { imageA: source, installed, enrolled: false, config: { hardwareId: 'pi-full', download: { deltas: false } } })
  const cfg = join(full.dir, 'config.json')
  await writeFile(cfg, JSON.stringify(full.config))
  const enrolled = await run(process.execPath, [bundle.path, 'enroll', '--config', cfg, '--token', token])
  t.match(enrolled.stdout, /^enrolled as [0-9a-f-]+ in group e2e/)
  t.equal((await stat(full.config.credentialFile ?? join(full.config.dataDir, 'credential.json'))).mode & 0o777, 0o600, 'credential stored 0600')
  await full.powerCycle() // a fresh agent reads the new credential
  const delta = await make('delta', {})
  const bad = await make('bad', { health: { attempts: 1, commands: [{ name: 'llm-app', argv: ['sh', '-c', 'echo inference server exited >&2; exit 1'] }] } })
  const devices = [full, delta, bad]
  for (const d of devices) t.match(await d.agent.tick(), { outcome: 'idle', poll: 'none' }, 'nothing assigned yet')

  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { group: 'e2e' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { minSample: 1 },
    reason: 'agent e2e',
  })
  t.equal(created.status, 201, JSON.stringify(created.json))
  const rolloutId = created.json.rollout.id
  const started = await call(srv, op, 'POST', `/v1/rollouts/${rolloutId}/start`, { reason: 'go' })
  t.equal(started.status, 200, JSON.stringify(started.json))

  // first round: each device verifies, installs into slot b, marks it to try, "reboots"
  for (const d of devices) t.match(await d.agent.tick(), { outcome: 'reboot-issued', poll: 'accepted' })
  t.equal((await full.agent.status()).journal.update?.mode, 'full')
  t.equal((await delta.agent.status()).journal.update?.mode, 'delta')
  for (const d of devices) t.ok((await d.slot('b')).equals(target), 'slot b holds the new image')
  // boot into the trial: health checks, then commit (two) or roll back and reboot (one)
  for (const d of [full, delta]) {
    await d.powerCycle()
    t.equal((await d.agent.tick()).outcome, 'committed')
    t.match(await d.slotState(), { active: 'b', booted: 'b' })
  }
  await bad.powerCycle()
  t.equal((await bad.agent.tick()).outcome, 'reboot-issued')
  await bad.powerCycle()
  t.match(await bad.slotState(), { active: 'a', booted: 'a' })
  t.equal((await bad.agent.tick()).outcome, 'idle')

  const versionOf = async (d: SimDevice) => {
    const id = (await d.agent.status()).deviceId
    return (await call(srv, op, 'GET', `/v1/devices/${id}`)).json.installed.map((i: any) => i.version)
  }
  t.same(await versionOf(full), ['1.1.0'], 'server: full device runs 1.1.0')
  t.same(await versionOf(delta), ['1.1.0'], 'server: delta device runs 1.1.0')
  t.same(await versionOf(bad), ['1.0.0'], 'server: the rolled-back device still runs 1.0.0')
  const view = (await call(srv, op, 'GET', `/v1/rollouts/${rolloutId}`)).json
  t.equal(view.totals.healthy, 2, JSON.stringify(view.totals))
  t.equal(view.totals.failed, 1, 'the rollback counts as a failure')
  t.equal((await bad.agent.status()).journal.update?.reason?.code, 'HEALTH_CHECK_FAILED')
})

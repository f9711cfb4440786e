/**
 * Issue 12 §2 against the real embedded server: a device updates to 1.1.0, the
 * operator rolls the rollout back, and the device returns to 1.0.0 by switching
 * slots (hashed first) instead of downloading the image it still holds. The
 * server shows how each device got what it runs (API and `slipway device show`).
 */
import t from 'tap'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { imagePair, pushRelease } from '../helpers/deltas.js'
import { enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'
import type { Release } from '../../signing/metadata/release.js'
import { simDevice } from '../client-sdk/agent/device-fixtures.js'

t.test('a fleet rollback is a slot-switch, shown per device', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source: imageA, target: imageB } = imagePair(1024 * 1024)
  const v1 = await pushRelease(srv, ci, imageA, { name: 'rootfs', version: '1.0.0', hardware: ['rpi4'] })
  await pushRelease(srv, ci, imageB, { name: 'rootfs', version: '1.1.0', hardware: ['rpi4'] })
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { group: 'switch' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    start: true,
    allowEmpty: true,
    reason: 'slot-switch test',
  })
  t.equal(created.status, 201, JSON.stringify(created.json))
  const rolloutId = created.json.rollout.id
  const root = (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw
  const installed = { name: 'rootfs', version: '1.0.0', sha256: v1.sha256, length: v1.length, securityVersion: 1 } as Release
  const sim = await simDevice(t, { url: srv.url, trust: { root } }, { imageA, installed, enrolled: false, config: { hardwareId: 'switch-1', download: { retries: 0, retryDelayMs: 10, maxAttempts: 3, deltas: false } } })
  const { deviceId } = await sim.agent.enroll(await enrollmentToken(srv, 'switch'))

  t.equal((await sim.agent.tick()).outcome, 'reboot-issued')
  await sim.powerCycle()
  t.equal((await sim.agent.tick()).outcome, 'committed')
  let device = (await call(srv, op, 'GET', `/v1/devices/${deviceId}`)).json
  t.match(device.installed, [{ name: 'rootfs', version: '1.1.0', installMode: 'full' }])

  const rolled = await call(srv, op, 'POST', `/v1/rollouts/${rolloutId}/rollback`, { reason: 'bad build' })
  t.equal(rolled.status, 200, JSON.stringify(rolled.json))
  const first = await sim.agent.tick()
  t.equal(first.outcome, 'reboot-issued', 'the rollback went straight to the trial boot')
  const j = (await sim.agent.status()).journal
  t.match(j.update, { action: 'rollback', mode: 'slot-switch', slotCheck: { slot: 'a', sha256: v1.sha256, matched: true } })
  await sim.powerCycle()
  t.equal((await sim.agent.tick()).outcome, 'committed')
  t.match(await sim.slotState(), { active: 'a', booted: 'a' })

  device = (await call(srv, op, 'GET', `/v1/devices/${deviceId}`)).json
  t.match(device.installed, [{ name: 'rootfs', version: '1.0.0', installMode: 'slot-switch' }], 'the API shows how the device got it')
  const shown = await slipway(['device', 'show', deviceId], { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }).done
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /rootfs@1\.0\.0 \(securityVersion 1, installed by slot-switch\)/)
})

/**
 * Issue 12 §6 on the server: a refused offer reported as a security event is
 * stored, audited and shown with the device, and never touches the rollout the
 * device already finished (a replay cannot flip a succeeded member to failed).
 * Download progress from `downloading` events shows in the device view.
 */
import t from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('security events and progress', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })
  const dev = await enroll(srv, await enrollmentToken(srv, 'sec'), { installed: [installedOf(v1)] })
  const created = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], gate: { minSample: 1 }, start: true, reason: 'test' })
  t.equal(created.status, 201)
  const rolloutId = created.json.rollout.id
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).status, 200)
  const release = { name: 'rootfs', version: '1.1.0' }
  const ev = (seq: number, state: string, extra: object = {}) => ({ id: `e-${seq}`, seq, rolloutId, release, state, mode: 'full', ...extra })
  const sent = await deviceCall(srv, dev, 'POST', '/v1/device/events', {
    events: [ev(1, 'downloading', { progress: { bytes: 1000, total: v2.length } })],
  })
  t.equal(sent.status, 200, sent.raw.toString())
  let shown = (await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)).json
  t.match(shown.progress, { name: 'rootfs', version: '1.1.0', bytes: 1000, total: v2.length }, 'progress in the device view')
  await deviceCall(srv, dev, 'POST', '/v1/device/events', { events: [ev(2, 'installing'), ev(3, 'succeeded')] })
  const member = async () => (await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)).json.rollouts.find((m: any) => m.rolloutId === rolloutId)
  t.match(await member(), { state: 'succeeded' })

  const refused = { id: 'sec-1', seq: 4, kind: 'offer-refused', reason: { code: 'ASSIGNMENT_REPLAY', message: 'assignment counter 0 is below 1' }, claimed: { rolloutId, release } }
  const r1 = await deviceCall(srv, dev, 'POST', '/v1/device/security-events', refused)
  t.equal(r1.status, 200, r1.raw.toString())
  t.same(r1.json, { accepted: true })
  t.same((await deviceCall(srv, dev, 'POST', '/v1/device/security-events', refused)).json, { accepted: false }, 'the same id counts once')
  t.match(await member(), { state: 'succeeded' }, 'the finished member is untouched')
  shown = (await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)).json
  t.match(shown.securityEvents, [{ kind: 'offer-refused', code: 'ASSIGNMENT_REPLAY', claimed: { rolloutId } }])
  t.match(shown.installed, [{ version: '1.1.0', installMode: 'full' }])
  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${dev.deviceId}`)).json
  // after its enrollment, the one refused offer
  t.match((audit.entries ?? audit).filter((e: { action: string }) => e.action !== 'device.enroll'), [{ action: 'device.offer-refused', reason: 'ASSIGNMENT_REPLAY', actor: `device:${dev.deviceId}` }])
  const bad = await deviceCall(srv, dev, 'POST', '/v1/device/security-events', { ...refused, id: 'sec-2', kind: 'failed' })
  t.equal(bad.status, 400)
  t.equal(bad.json.error.code, 'VALIDATION_FAILED')
})

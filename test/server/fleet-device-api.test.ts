/**
 * The device API end to end over real HTTP on the embedded server: enrollment (and
 * rotation), the poll with a verifiable signed assignment and ETags, idempotent and
 * ordered events, health, explain, and the bad inputs the rollout issue names.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'
import { TrustedRoot, verifyAssignment, verifyRelease, checkUpdate } from '../../signing/verify/index.js'
import { canonicalWire } from '../../signing/canonical-json.js'

t.test('enroll, poll, report, explain', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'lab', 3)

  // enrollment, re-enrollment with proof of the current key (key rotation), bad tokens
  const dev = await enroll(srv, et, { hardwareId: 'pi-0001', tags: ['canary'], installed: [installedOf(v1)] })
  t.equal(dev.status, 201)
  t.equal(dev.state, 'active')
  const again = await enroll(srv, et, { hardwareId: 'pi-0001', tags: ['canary'], installed: [installedOf(v1)], proveWith: dev })
  t.equal(again.status, 200, 'a re-enrollment signed with the current key is accepted at once')
  t.equal(again.deviceId, dev.deviceId, 're-enrolling the same hardware id keeps the device')
  t.not(again.serial, dev.serial, 'and gives it a certificate for its new key')
  const old = await deviceCall(srv, dev, 'GET', '/v1/device/update')
  t.equal(old.status, 401)
  t.equal(old.json.error.code, 'DEVICE_CERT_REVOKED', 'the old certificate stops working at once')
  await enroll(srv, et, { hardwareId: 'pi-0002' }) // third and last use
  await t.rejects(enroll(srv, et, { hardwareId: 'pi-0003' }), /401 .*ENROLLMENT_TOKEN_USED_UP/)
  await t.rejects(enroll(srv, 'sle_nope', { hardwareId: 'x' }), /401 .*ENROLLMENT_TOKEN_INVALID/)
  const list = await call(srv, op, 'GET', '/v1/devices?group=lab')
  t.equal(list.json.devices.length, 2, 'one device per hardware id')
  t.notOk('credentialHash' in list.json.devices[0], 'credential hashes are never listed')

  // nothing to do yet
  const idle = await deviceCall(srv, again, 'GET', '/v1/device/update')
  t.equal(idle.status, 204)
  t.equal(idle.headers.get('slipway-poll-interval'), '300')
  t.equal((await call(srv, op, 'GET', '/v1/device/update')).status, 403, 'an operator token is not a device')

  // a rollout reaching every device
  const created = await call(srv, op, 'POST', '/v1/rollouts', { release: `rootfs@${v2.version}`, phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], gate: { minSample: 1 }, start: true, reason: 'test' })
  t.equal(created.status, 201, 'rollout created and started')
  const rolloutId = created.json.rollout.id
  const poll = await deviceCall(srv, again, 'GET', '/v1/device/update')
  t.equal(poll.status, 200)
  const etag = poll.headers.get('etag')!
  t.ok(etag)
  t.equal(poll.json.action, 'install')
  t.equal(poll.json.artifact.url, `/v1/blobs/${v2.sha256}`)

  // the device can verify what it got, with the server's published root
  const rootDoc = await call(srv, undefined, 'GET', '/v1/trust/root/1.json')
  const trusted = TrustedRoot.fromPinned(rootDoc.raw)
  const a = verifyAssignment(trusted, Buffer.from(canonicalWire(poll.json.assignment)), { deviceId: again.deviceId }).assignment
  t.equal(a.counter, 1)
  t.equal(a.rolloutId, rolloutId)
  const rel = verifyRelease(trusted, Buffer.from(canonicalWire(poll.json.release))).release
  checkUpdate({ assignment: a, release: rel }, { hardware: 'rpi5', securityVersion: 1 })
  t.pass('assignment and release verify on the device side')

  const same = await deviceCall(srv, again, 'GET', '/v1/device/update', undefined, { 'if-none-match': etag })
  t.equal(same.status, 304, 'unchanged assignment: 304')
  const again2 = await deviceCall(srv, again, 'GET', '/v1/device/update')
  t.same(again2.json.assignment, poll.json.assignment, 'the same assignment bytes until the decision changes')

  // events: idempotent, ordered
  const ev = (seq: number, state: string, id = randomUUID()) => ({ id, seq, rolloutId, release: { name: 'rootfs', version: v2.version }, state })
  const e1 = ev(1, 'downloading')
  let r = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [e1, ev(2, 'installing')] })
  t.same(r.json, { accepted: 2, duplicates: 0, stale: 0 })
  r = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [e1] })
  t.same(r.json, { accepted: 0, duplicates: 1, stale: 0 }, 'the same event id twice counts once')
  r = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [ev(5, 'succeeded')] })
  t.equal(r.json.accepted, 1)
  r = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [ev(4, 'rebooting')] })
  t.same(r.json, { accepted: 0, duplicates: 0, stale: 1 }, 'an older report never overwrites a newer state')
  const h = await deviceCall(srv, again, 'POST', '/v1/device/health', { id: randomUUID(), seq: 6, rolloutId, release: { name: 'rootfs', version: v2.version }, bootOk: true, checks: [{ name: 'unit:app', ok: true }], metrics: { inference_p95_ms: 420 } })
  t.same(h.json, { accepted: true, ok: true, failed: [] })

  const view = await call(srv, op, 'GET', `/v1/rollouts/${rolloutId}`)
  const totals = view.json.totals
  t.equal(totals.healthy, 1)
  t.equal(totals.failed, 0)
  const dv = await call(srv, op, 'GET', `/v1/devices/${again.deviceId}`)
  t.same(dv.json.installed.map((i: any) => i.version), [v2.version], 'succeeded sets what the device runs')
  const done = await deviceCall(srv, again, 'GET', '/v1/device/update')
  t.equal(done.status, 204, 'nothing left to do once it runs the release')

  // explain in words
  const other = await enroll(srv, await enrollmentToken(srv, 'lab'), { hardware: 'rpi4' })
  const ex = await call(srv, op, 'GET', `/v1/devices/${other.deviceId}/explain`)
  t.equal(ex.json.offered, null)
  t.match(ex.json.reasons.join('\n'), /built for rpi5, the device is rpi4/)

  // bad input
  const notMember = await deviceCall(srv, other, 'POST', '/v1/device/events', { events: [{ ...ev(1, 'downloading') }] })
  t.equal(notMember.status, 409)
  t.equal(notMember.json.error.code, 'DEVICE_NOT_IN_ROLLOUT')
  const unknown = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [{ ...ev(9, 'downloading'), rolloutId: 'no-such-rollout' }] })
  t.equal(unknown.status, 404)
  t.equal(unknown.json.error.code, 'ROLLOUT_NOT_FOUND')
  const mixed = await deviceCall(srv, again, 'POST', '/v1/device/events', { events: [ev(10, 'downloading'), { ...ev(11, 'installing'), rolloutId: 'nope' }] })
  t.equal(mixed.status, 404)
  const after = await call(srv, op, 'GET', `/v1/rollouts/${rolloutId}`)
  t.same(after.json.totals, totals, 'a rejected batch stores nothing')

  const metrics = (await call(srv, undefined, 'GET', '/metrics')).raw.toString()
  t.match(metrics, /slipway_device_polls_total\{result="assignment"\} [1-9]/)
  t.match(metrics, /slipway_device_polls_total\{result="not-modified"\} 1/)
  t.match(metrics, /slipway_rollouts\{state="(running|completed)"\} 1/)
})

/** `slipway device quarantine|release|decommission ID --reason`: the real bin over real HTTP. */
import t from 'tap'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('device quarantine, release and decommission from the CLI', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const run = (...args: string[]) => slipway(args, { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }).done
  const et = await enrollmentToken(srv)
  const dev = await enroll(srv, et, { hardwareId: 'pi-q' })

  const help = await run('device', '--help')
  t.match(help.stdout, /slipway device quarantine ID --reason R/)
  t.match(help.stdout, /slipway device decommission ID --reason R/)

  const noReason = await run('device', 'quarantine', dev.deviceId)
  t.not(noReason.code, 0, 'the reason is required')
  t.match(noReason.stderr, /--reason is required/)
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).status, 204, 'nothing changed')

  const q = await run('device', 'quarantine', dev.deviceId, '--reason', 'tampered case')
  t.equal(q.code, 0, q.stderr)
  t.match(q.stderr, /quarantined device/)
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_QUARANTINED')
  const twice = await run('device', 'quarantine', dev.deviceId, '--reason', 'again')
  t.equal(twice.code, 1)
  t.match(twice.stderr, /DEVICE_ALREADY_QUARANTINED/)

  const r = await run('device', 'release', dev.deviceId, '--reason', 'inspected')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /must enroll again/)
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_CERT_REVOKED')

  const d = await run('device', 'decommission', dev.deviceId, '--reason', 'end of life')
  t.equal(d.code, 0, d.stderr)
  t.ok((await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)).json.decommissionedAt, 'the record stays, decommissioned')
  const unknown = await run('device', 'decommission', dev.deviceId, '--reason', 'again')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /DEVICE_NOT_FOUND/)
  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${dev.deviceId}`)).json.entries.map((e: any) => [e.action, e.reason])
  // the certificate revocations are audited with the action that made them
  t.same(audit, [
    ['device.enroll', null],
    ['device-cert.revoke', 'quarantined: tampered case'],
    ['device.quarantine', 'tampered case'],
    ['device.release', 'inspected'],
    ['device-cert.revoke', 'decommissioned: end of life'],
    ['device.decommission', 'end of life'],
  ])
})

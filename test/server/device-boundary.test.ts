/**
 * The device boundary from outside, over real HTTP on the embedded server (issue 10
 * §3-5): a device downloads only what it is assigned (anything else is the missing-blob
 * 404, byte for byte), within a download budget; quarantine, release and decommission;
 * throttled authentication failures and enrollments. Each attack is refused with its
 * code and changes nothing.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { createCsr } from '../../client-sdk/src/identity/csr.js'
import { FileDeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish, type EnrolledDevice } from '../helpers/fleet.js'
import { assignedFleet, phases1 } from '../helpers/boundary.js'
import { startServer, type TestServer } from '../helpers/server.js'

const missingBody = async (srv: TestServer, dev: EnrolledDevice, sha256: string) => (await deviceCall(srv, dev, 'GET', `/v1/blobs/${sha256}`)).raw.toString('utf8')
/** An enroll body with a fresh key's CSR (the route refuses one without: ENROLL_CSR_REQUIRED). */
const enrollBody = async (enrollmentToken: string, hardwareId: string) =>
  JSON.stringify({ enrollmentToken, hardwareId, hardware: 'rpi5', tags: [], installed: [], csr: await createCsr(hardwareId, FileDeviceKey.generate('ed25519')) })
const auditOf = async (srv: TestServer, op: string, subject: string) => (await call(srv, op, 'GET', `/v1/audit?subject=${encodeURIComponent(subject)}`)).json.entries as any[]

t.test('a device downloads only what its assignment names; anything else is the missing-blob 404', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const f = await assignedFleet(srv)
  const ghost = randomBytes(32).toString('hex')

  const got = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`)
  t.equal(got.status, 200, 'the assigned image downloads')
  t.same(got.raw, f.v2.data)
  t.equal((await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { range: 'bytes=0-99' })).status, 206, 'with Range too')

  // the model exists, the ghost does not: a device cannot tell them apart
  for (const [what, rel] of [
    ['a model for other hardware', f.model],
    ['the release it runs (not assigned)', f.v1],
  ] as const) {
    const get = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${rel.sha256}`)
    t.equal(get.status, 404, `${what}: 404`)
    t.equal(get.json.error.code, 'BLOB_NOT_FOUND')
    t.equal(get.raw.toString('utf8'), (await missingBody(srv, f.dev, ghost)).replaceAll(ghost, rel.sha256), `${what}: the very body of a missing blob`)
    const head = await deviceCall(srv, f.dev, 'HEAD', `/v1/blobs/${rel.sha256}`)
    t.equal(head.status, 404, `${what}: HEAD says nothing either`)
    t.equal(head.headers.get('content-length'), (await deviceCall(srv, f.dev, 'HEAD', `/v1/blobs/${ghost}`)).headers.get('content-length'))
  }
  const unassigned = await deviceCall(srv, f.other, 'GET', `/v1/blobs/${f.v2.sha256}`)
  t.equal(unassigned.status, 404, 'a device outside the rollout cannot fetch its image')
  t.equal(unassigned.json.error.code, 'BLOB_NOT_FOUND')

  // operators and CI keep their access
  for (const role of ['operator', 'ci'] as const) t.equal((await call(srv, await srv.token(role), 'GET', `/v1/blobs/${f.model.sha256}`)).status, 200, `${role} reads any blob`)

  // the previous assignment's blobs stay reachable: an abort replaces nothing, a new rollout does
  await publish(srv, { version: '3.0.0' })
  const c3 = await call(srv, f.op, 'POST', '/v1/rollouts', { release: 'rootfs@3.0.0', selector: { hardware: 'rpi5' }, phases: phases1, start: true, reason: 'next' })
  t.equal(c3.status, 201)
  const p3 = await deviceCall(srv, f.dev, 'GET', '/v1/device/update')
  t.equal(p3.json.assignment.signed.release.version, '3.0.0')
  t.equal((await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { range: 'bytes=100-199' })).status, 206, 'the previous assignment still names 2.0.0')
})

t.test('download budget: past 2x an artifact in the window, 429 DOWNLOAD_BUDGET_EXCEEDED, one audit entry, a metric', async (t) => {
  const srv = await startServer({ SLIPWAY_DOWNLOAD_BUDGET_FACTOR: '2' })
  t.teardown(() => srv.close())
  const f = await assignedFleet(srv)
  const len = f.v2.length
  // ranges add up: 1.5x in pieces, then half more is exactly 2x
  for (const range of [`bytes=0-${len - 1}`, `bytes=0-${len / 2 - 1}`, `bytes=${len / 2}-${len - 1}`])
    t.equal((await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { range })).status, 206, range)
  // 304 and HEAD move no bytes and cost nothing
  t.equal((await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { 'if-none-match': `"${f.v2.sha256}"` })).status, 304)
  t.equal((await deviceCall(srv, f.dev, 'HEAD', `/v1/blobs/${f.v2.sha256}`)).status, 200)
  const ranges = Array.from({ length: 3 }, () => deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`, undefined, { range: 'bytes=0-0' }))
  for (const r of await Promise.all(ranges)) {
    t.equal(r.status, 429, 'one byte more is refused')
    t.equal(r.json.error.code, 'DOWNLOAD_BUDGET_EXCEEDED')
    t.ok(Number(r.headers.get('retry-after')) > 0, 'with Retry-After')
    t.equal(r.json.error.details.budgetBytes, 2 * len)
  }
  const flagged = (await auditOf(srv, f.op, `device:${f.dev.deviceId}`)).filter((e) => e.action === 'device.download-budget-exceeded')
  t.equal(flagged.length, 1, 'one audit entry per device, blob and window, however many refusals')
  t.equal(flagged[0].after.sha256, f.v2.sha256)
  const metrics = (await call(srv, undefined, 'GET', '/metrics')).raw.toString('utf8')
  t.match(metrics, /slipway_device_download_budget_exceeded_total 3\b/, 'every refusal counted')
  // the budget is per device: another device of the rollout is not affected
  const peer = await enroll(srv, f.et, { installed: [installedOf(f.v1)] })
  t.equal((await deviceCall(srv, peer, 'GET', '/v1/device/update')).status, 200)
  t.equal((await deviceCall(srv, peer, 'GET', `/v1/blobs/${f.v2.sha256}`)).status, 200)
  // the device itself still polls
  t.equal((await deviceCall(srv, f.dev, 'GET', '/v1/device/update')).status, 200)
})

t.test('download budget policy: the device that passes it is quarantined', async (t) => {
  const srv = await startServer({ SLIPWAY_DOWNLOAD_BUDGET_FACTOR: '1', SLIPWAY_DOWNLOAD_BUDGET_QUARANTINE: 'true' })
  t.teardown(() => srv.close())
  const f = await assignedFleet(srv)
  t.equal((await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`)).status, 200)
  const second = await deviceCall(srv, f.dev, 'GET', `/v1/blobs/${f.v2.sha256}`)
  t.equal(second.json.error.code, 'DOWNLOAD_BUDGET_EXCEEDED')
  const after = await deviceCall(srv, f.dev, 'GET', '/v1/device/update')
  t.equal(after.status, 403)
  t.equal(after.json.error.code, 'DEVICE_QUARANTINED')
  const actions = (await auditOf(srv, f.op, `device:${f.dev.deviceId}`)).filter((e) => e.action !== 'device.enroll').map((e) => `${e.actor} ${e.action}`)
  t.same(actions, ['system:download-budget device.download-budget-exceeded', 'system:download-budget device-cert.revoke', 'system:download-budget device.quarantine'])
})

t.test('quarantine: one transaction; 403 DEVICE_QUARANTINED everywhere; out of the rollout counts; release means re-enroll; decommission', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const f = await assignedFleet(srv)
  const view = async () => (await call(srv, f.op, 'GET', `/v1/rollouts/${f.rolloutId}`)).json
  t.equal((await view()).totals.pending, 1, 'before: the device is a pending member')
  const rolloutBefore = (await view()).rollout

  // bad input changes nothing
  const bad: Array<[string, unknown, number, string]> = [
    [`/v1/devices/${f.dev.deviceId}/quarantine`, {}, 400, 'VALIDATION_FAILED'],
    [`/v1/devices/${f.dev.deviceId}/quarantine`, { reason: '' }, 400, 'VALIDATION_FAILED'],
    [`/v1/devices/${randomUUID()}/quarantine`, { reason: 'x' }, 404, 'DEVICE_NOT_FOUND'],
    [`/v1/devices/${f.dev.deviceId}/release`, { reason: 'x' }, 409, 'DEVICE_NOT_QUARANTINED'],
  ]
  for (const [path, body, status, code] of bad) {
    const r = await call(srv, f.op, 'POST', path, body)
    t.equal(r.status, status, code)
    t.equal(r.json.error.code, code)
  }
  const byDevice = await deviceCall(srv, f.other, 'POST', `/v1/devices/${f.dev.deviceId}/quarantine`, { reason: 'x' })
  t.equal(byDevice.status, 403, 'a device cannot quarantine another')
  t.equal(byDevice.json.error.code, 'AUTH_FORBIDDEN')
  t.equal((await deviceCall(srv, f.dev, 'GET', '/v1/device/update')).status, 200, 'nothing changed')

  const q = await call(srv, f.op, 'POST', `/v1/devices/${f.dev.deviceId}/quarantine`, { reason: 'stolen from the lab' })
  t.equal(q.status, 200)
  t.equal(q.json.quarantined, true)
  t.equal((await call(srv, f.op, 'POST', `/v1/devices/${f.dev.deviceId}/quarantine`, { reason: 'again' })).json.error.code, 'DEVICE_ALREADY_QUARANTINED')

  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/v1/device/update'],
    ['POST', '/v1/device/events', { events: [{ id: randomUUID(), seq: 1, rolloutId: f.rolloutId, release: { name: 'rootfs', version: '2.0.0' }, state: 'failed' }] }],
    ['POST', '/v1/device/health', { id: randomUUID(), seq: 2, release: { name: 'rootfs', version: '2.0.0' }, bootOk: false, checks: [] }],
    ['GET', `/v1/blobs/${f.v2.sha256}`],
  ]
  for (const [method, path, body] of routes) {
    const r = await deviceCall(srv, f.dev, method, path, body)
    t.equal(r.status, 403, `${method} ${path}`)
    t.equal(r.json.error.code, 'DEVICE_QUARANTINED')
  }
  const head = await deviceCall(srv, f.dev, 'HEAD', `/v1/blobs/${f.v2.sha256}`)
  t.equal(head.status, 403, 'HEAD too')
  const tokensBefore = (await call(srv, f.op, 'GET', '/v1/enrollment-tokens')).json.tokens[0].uses
  const reEnroll = await fetch(`${srv.url}/v1/device/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: await enrollBody(f.et, f.dev.hardwareId),
  })
  t.equal(reEnroll.status, 403, 'the quarantined hardware cannot enroll its way out')
  t.equal(((await reEnroll.json()) as any).error.code, 'DEVICE_QUARANTINED')
  t.equal((await call(srv, f.op, 'GET', '/v1/enrollment-tokens')).json.tokens[0].uses, tokensBefore, 'the refused enrollment took no use')

  const v = await view()
  t.same([v.totals.assigned, v.totals.pending, v.totals.failed, v.totals.healthy], [0, 0, 0, 0], 'neither failed nor healthy: out of the counts')
  t.equal(v.rollout.state, rolloutBefore.state, 'the failed report never reached the rollout')
  const why = (await call(srv, f.op, 'GET', `/v1/devices/${f.dev.deviceId}/explain`)).json
  t.equal(why.offered, null, 'explain offers it nothing')
  t.match(why.reasons[0], /quarantined since .*stolen from the lab/)
  const shown = (await call(srv, f.op, 'GET', `/v1/devices/${f.dev.deviceId}`)).json
  t.equal(shown.quarantineReason, 'stolen from the lab')
  t.ok(shown.rollouts[0].withdrawnAt, 'its membership is marked withdrawn')

  // release: the old certificate stays revoked; the device enrolls again (a claim: no current key
  // to prove), an operator approves it, and it works
  t.equal((await call(srv, f.op, 'POST', `/v1/devices/${f.dev.deviceId}/release`, { reason: 'found, reimaged' })).status, 200)
  const revoked = await deviceCall(srv, f.dev, 'GET', '/v1/device/update')
  t.equal(revoked.status, 401)
  t.equal(revoked.json.error.code, 'DEVICE_CERT_REVOKED')
  const back = await enroll(srv, f.et, { hardwareId: f.dev.hardwareId, installed: [installedOf(f.v1)] })
  t.equal(back.deviceId, f.dev.deviceId, 'the same device, enrolled again')
  t.equal(back.status, 202, 'as a claim awaiting approval')
  t.equal((await deviceCall(srv, back, 'GET', '/v1/device/update')).status, 204, 'the claim reaches nothing')
  t.equal((await call(srv, f.op, 'POST', `/v1/devices/${back.deviceId}/approve`, { reason: 'reimaged by us' })).status, 200)
  t.equal((await deviceCall(srv, back, 'GET', '/v1/device/update')).status, 200)

  // decommission: identity gone, history kept, the hardware may come back as a new device
  const del = await call(srv, f.op, 'DELETE', `/v1/devices/${back.deviceId}`, { reason: 'sold' })
  t.equal(del.status, 204)
  t.equal((await deviceCall(srv, back, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_CERT_REVOKED')
  t.equal((await call(srv, f.op, 'DELETE', `/v1/devices/${back.deviceId}`, { reason: 'again' })).json.error.code, 'DEVICE_NOT_FOUND')
  const tomb = (await call(srv, f.op, 'GET', `/v1/devices/${back.deviceId}`)).json
  t.ok(tomb.decommissionedAt, 'the row and its history stay')
  t.equal(tomb.rollouts.length, 1)
  const anew = await enroll(srv, f.et, { hardwareId: f.dev.hardwareId })
  t.not(anew.deviceId, back.deviceId, 'the same hardware enrolls as a new device')

  const audit = await auditOf(srv, f.op, `device:${f.dev.deviceId}`)
  t.same(
    audit.map((e) => [e.action, e.reason]),
    [
      ['device.enroll', null],
      ['device-cert.revoke', 'quarantined: stolen from the lab'],
      ['device.quarantine', 'stolen from the lab'],
      ['device.release', 'found, reimaged'],
      ['device.claim', 're-enrollment without proof of the current key: awaits an operator approval'],
      ['device.approve', 'reimaged by us'],
      ['device-cert.revoke', 'decommissioned: sold'],
      ['device.decommission', 'sold'],
    ],
  )
  t.equal(audit[7].before.hardwareId, f.dev.hardwareId, 'the decommission entry keeps the hardware id')
  t.equal(verifyChain((await call(srv, f.op, 'GET', '/v1/audit')).json.entries).ok, true, 'the audit chain verifies')
})

t.test('throttling: 2,000 wrong credentials get 429s while a valid device keeps polling', async (t) => {
  const srv = await startServer({ SLIPWAY_AUTH_FAILURES_PER_MINUTE: '50', SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE: '3' })
  t.teardown(() => srv.close())
  const f = await assignedFleet(srv)
  let polls = 0
  let attack = true
  const poller = (async () => {
    const statuses = new Set<number>()
    while (attack) {
      statuses.add((await deviceCall(srv, f.dev, 'GET', '/v1/device/update')).status)
      polls++
    }
    return statuses
  })()
  const codes = new Map<string, number>()
  let retryAfter = true
  const wrong = [(i: number) => `sld_${randomBytes(32).toString('base64url')}${i}`, (i: number) => `slw_${randomBytes(32).toString('base64url')}${i}`]
  for (let i = 0; i < 2000; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, (_, k) => call(srv, wrong[(i + k) % 2]!(i + k), 'GET', (i + k) % 2 ? '/v1/releases' : '/v1/device/update')),
    )
    for (const r of batch) {
      codes.set(r.json.error.code, (codes.get(r.json.error.code) ?? 0) + 1)
      if (r.status === 429 && !(Number(r.headers.get('retry-after')) > 0)) retryAfter = false
    }
  }
  attack = false
  const seen = await poller
  // sld_ bearer credentials are refused outright without SLIPWAY_DEVICE_BEARER_COMPAT: failures all the same
  t.equal((codes.get('DEVICE_BEARER_DISABLED') ?? 0) + (codes.get('AUTH_INVALID') ?? 0), 50, 'the first 50 failures are answered 401')
  t.equal(codes.get('AUTH_RATE_LIMITED'), 1950, 'the rest 429 AUTH_RATE_LIMITED')
  t.ok(retryAfter, 'every 429 carries Retry-After')
  t.ok(polls > 0, `the valid device polled ${polls} times during the burst`)
  t.same([...seen], [200], 'and was never refused')
  // wrong enrollment tokens from the same address are failures too; a valid token still enrolls
  const badEnroll = await fetch(`${srv.url}/v1/device/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: await enrollBody('sle_nope', 'x') })
  t.equal(badEnroll.status, 429)
  t.equal(((await badEnroll.json()) as any).error.code, 'AUTH_RATE_LIMITED')

  // enrollment per token: 3 a minute with f.et were taken by assignedFleet (2) and this one
  const op = f.op
  const count = async () => (await call(srv, op, 'GET', '/v1/devices')).json.devices.length
  await enroll(srv, f.et)
  const before = await count()
  const res = await fetch(`${srv.url}/v1/device/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: await enrollBody(f.et, 'swarm-1') })
  t.equal(res.status, 429, 'the fourth enrollment with one token within a minute')
  t.equal(((await res.json()) as any).error.code, 'ENROLLMENT_RATE_LIMITED')
  t.ok(Number(res.headers.get('retry-after')) > 0)
  t.equal(await count(), before, 'nothing enrolled')
  // another token is another count
  t.ok((await enroll(srv, await enrollmentToken(srv))).deviceId)
})

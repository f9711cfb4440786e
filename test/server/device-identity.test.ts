/**
 * Key-bound device identity over real HTTP on the embedded server, attacked from
 * outside: bad CSRs, stale / replayed / wrong-key / other-body signatures, bearer
 * secrets, a takeover by re-enrollment (it becomes a pending claim that reaches
 * nothing until an operator approves it, and never moves the group), renewal and
 * revocation (refused at once, listed in the CRL). Each refusal has its own code and
 * changes nothing.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createCsr } from '../../client-sdk/src/identity/csr.js'
import { FileDeviceKey, type DeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { parseRevocationList } from '../../signing/certs/index.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

const srv = await startServer()
t.teardown(() => srv.close())
const op = await srv.token('operator')
// certificates of the shortest lifetime allowed (60 s), enrolled first and checked last
const short = await startServer({ SLIPWAY_DEVICE_CERT_LIFETIME_SECONDS: '60' })
t.teardown(() => short.close())
const expiring = await enroll(short, await enrollmentToken(short, 'short'))

const tokenUses = async (token: string) => (await call(srv, op, 'GET', '/v1/enrollment-tokens')).json.tokens.find((x: any) => x.group === token)?.uses
const deviceCount = async () => (await call(srv, op, 'GET', '/v1/devices?limit=1000')).json.devices.length
const enrollBody = async (hardwareId: string, token: string, csr: string) => ({ enrollmentToken: token, hardwareId, hardware: 'rpi5', tags: [], installed: [], csr })

t.test('CSR refusals: a key type that is not allowed, a signature by another key; nothing is stored', async (t) => {
  const token = await enrollmentToken(srv, 'csr-group')
  const before = { devices: await deviceCount(), uses: await tokenUses('csr-group') }
  const dir = await mkdtemp(join(tmpdir(), 'csr-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'r.csr'), '-subj', '/CN=hw-rsa'], { stdio: 'pipe' })
  const rsa = await call(srv, undefined, 'POST', '/v1/device/enroll', await enrollBody('hw-rsa', token, await readFile(join(dir, 'r.csr'), 'utf8')))
  t.equal(rsa.status, 422)
  t.equal(rsa.json.error.code, 'CERT_CSR_KEY_NOT_ALLOWED')

  // a CSR carrying key A but signed by key B proves possession of nothing
  const a = FileDeviceKey.generate('ecdsa')
  const b = FileDeviceKey.generate('ecdsa')
  const forged = await createCsr('hw-forged', { keyType: 'ecdsa', publicKeyPem: a.publicKeyPem, sign: (d) => b.sign(d) } satisfies DeviceKey)
  const mismatch = await call(srv, undefined, 'POST', '/v1/device/enroll', await enrollBody('hw-forged', token, forged))
  t.equal(mismatch.status, 422)
  t.equal(mismatch.json.error.code, 'CERT_CSR_SIGNATURE_INVALID')

  const otherName = await call(srv, undefined, 'POST', '/v1/device/enroll', await enrollBody('hw-one', token, await createCsr('hw-two', a)))
  t.equal(otherName.json.error.code, 'CERT_CSR_INVALID', 'a CSR must name the hardware id it enrolls')
  const noCsr = await call(srv, undefined, 'POST', '/v1/device/enroll', { enrollmentToken: token, hardwareId: 'hw-none', hardware: 'rpi5' })
  t.equal(noCsr.status, 400)
  t.equal(noCsr.json.error.code, 'ENROLL_CSR_REQUIRED', 'no bearer enrollment without SLIPWAY_DEVICE_BEARER_COMPAT')
  t.same({ devices: await deviceCount(), uses: await tokenUses('csr-group') }, before, 'no device, no token use')
})

t.test('message signatures: stale, replayed, wrong key, other body, unknown keyid, bearer secrets', async (t) => {
  const dev = await enroll(srv, await enrollmentToken(srv, 'sig-group'))
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).status, 204, 'a signed poll works')

  const poll = (headers: Record<string, string>) => call(srv, undefined, 'GET', '/v1/device/update', undefined, headers)
  const stale = await poll(await signRequest(dev.key, dev.serial, { method: 'GET', target: '/v1/device/update' }, Date.now() - 6 * 60_000))
  t.equal(stale.status, 401)
  t.equal(stale.json.error.code, 'DEVICE_SIGNATURE_STALE')
  const future = await poll(await signRequest(dev.key, dev.serial, { method: 'GET', target: '/v1/device/update' }, Date.now() + 6 * 60_000))
  t.equal(future.json.error.code, 'DEVICE_SIGNATURE_STALE', 'from the future too')

  const once = await signRequest(dev.key, dev.serial, { method: 'GET', target: '/v1/device/update' })
  t.equal((await poll(once)).status, 204)
  const replay = await poll(once)
  t.equal(replay.status, 401)
  t.equal(replay.json.error.code, 'DEVICE_SIGNATURE_REPLAYED')

  const wrong = await poll(await signRequest(FileDeviceKey.generate('ed25519'), dev.serial, { method: 'GET', target: '/v1/device/update' }))
  t.equal(wrong.json.error.code, 'DEVICE_SIGNATURE_INVALID', 'another key under this keyid')
  const otherPath = await poll(await signRequest(dev.key, dev.serial, { method: 'GET', target: '/v1/device/update?x=1' }))
  t.equal(otherPath.json.error.code, 'DEVICE_SIGNATURE_INVALID', 'a signature over another target')

  const v1 = await publish(srv, { version: `1.0.${Date.now() % 1000}` })
  const signedBody = JSON.stringify({ id: randomUUID(), seq: 1, release: { name: v1.name, version: v1.version }, bootOk: true, checks: [] })
  const headers = await signRequest(dev.key, dev.serial, { method: 'POST', target: '/v1/device/health', body: signedBody })
  const swapped = await call(srv, undefined, 'POST', '/v1/device/health', { id: randomUUID(), seq: 99, release: { name: v1.name, version: v1.version }, bootOk: false, checks: [] }, headers)
  t.equal(swapped.status, 401)
  t.equal(swapped.json.error.code, 'DEVICE_CONTENT_DIGEST_MISMATCH', 'a body other than the signed one')
  t.equal((await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)).json.lastSeq, -1, 'nothing was recorded')

  const unknown = await poll(await signRequest(dev.key, 'abcdef0123', { method: 'GET', target: '/v1/device/update' }))
  t.equal(unknown.json.error.code, 'DEVICE_CERT_UNKNOWN')
  const malformed = await poll({ 'signature-input': 'sig1=("@method");created=1', signature: 'sig1=:AAAA:', 'content-digest': 'sha-256=:x:' })
  t.equal(malformed.json.error.code, 'DEVICE_SIGNATURE_MALFORMED')
  const bearer = await call(srv, 'sld_whatever', 'GET', '/v1/device/update')
  t.equal(bearer.status, 401)
  t.equal(bearer.json.error.code, 'DEVICE_BEARER_DISABLED')
  t.equal((await call(srv, undefined, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_AUTH_MISSING')
  t.equal((await call(srv, undefined, 'GET', `/v1/blobs/${v1.sha256}`)).json.error.code, 'DEVICE_AUTH_MISSING', 'blob downloads too')
  // the signature is accepted; the blob is not this device's assignment, so it is the missing-blob 404
  // (issue 10 §3; a signed download of an assigned image: device-boundary.test.ts)
  const signed = await deviceCall(srv, dev, 'GET', `/v1/blobs/${v1.sha256}`)
  t.equal(signed.status, 404, 'a signed download gets past authentication')
  t.equal(signed.json.error.code, 'BLOB_NOT_FOUND')
})

t.test('no takeover: re-enrolling a hardware id without its key is a pending claim; approval moves the key, never the group', async (t) => {
  const v1 = await publish(srv, { version: `2.0.${Date.now() % 1000}` })
  const victim = await enroll(srv, await enrollmentToken(srv, 'victims'), { hardwareId: 'pi-victim', installed: [installedOf(v1)] })
  const v2 = await publish(srv, { version: `2.1.${Date.now() % 1000}` })
  const started = await call(srv, op, 'POST', '/v1/rollouts', { release: `rootfs@${v2.version}`, selector: { group: 'victims' }, phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], gate: { minSample: 1 }, start: true, reason: 'test' })
  t.equal(started.status, 201, JSON.stringify(started.json))
  t.equal((await deviceCall(srv, victim, 'GET', '/v1/device/update')).status, 200, 'the victim has an assignment')

  // the attacker holds a token of another group and knows the hardware id
  const attacker = await enroll(srv, await enrollmentToken(srv, 'attackers'), { hardwareId: 'pi-victim' })
  t.equal(attacker.status, 202, 'a claim, not an enrollment')
  t.equal(attacker.state, 'pending')
  t.equal(attacker.deviceId, victim.deviceId)
  t.equal(attacker.group, 'victims', 'the group does not move')
  const attackerPoll = await deviceCall(srv, attacker, 'GET', '/v1/device/update')
  t.equal(attackerPoll.status, 204, 'the claimant gets no assignment')
  t.equal(attackerPoll.headers.get('slipway-device-state'), 'pending')
  const report = await deviceCall(srv, attacker, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq: 1, rolloutId: started.json.rollout.id, release: { name: 'rootfs', version: v2.version }, state: 'failed' }] })
  t.equal(report.status, 403)
  t.equal(report.json.error.code, 'DEVICE_PENDING_APPROVAL', 'and cannot report into the rollout')
  t.equal((await deviceCall(srv, attacker, 'GET', `/v1/blobs/${v2.sha256}`)).json.error.code, 'DEVICE_PENDING_APPROVAL')
  t.equal((await deviceCall(srv, victim, 'GET', '/v1/device/update')).status, 200, 'the victim keeps working')
  const shown = await call(srv, op, 'GET', `/v1/devices/${victim.deviceId}`)
  t.equal(shown.json.group, 'victims')

  // the real device re-enrolls with proof: accepted at once, still in its group
  const proven = await enroll(srv, await enrollmentToken(srv, 'attackers'), { hardwareId: 'pi-victim', key: victim.key, proveWith: victim })
  t.equal(proven.status, 200)
  t.equal(proven.state, 'active')
  t.equal(proven.group, 'victims')

  // an operator approves a (legitimate) claim: the claimant's key becomes the device's
  const replacement = await enroll(srv, await enrollmentToken(srv, 'victims'), { hardwareId: 'pi-victim' })
  t.equal(replacement.status, 202)
  const noClaim = await call(srv, op, 'POST', `/v1/devices/${randomUUID()}/approve`, { reason: 'x' })
  t.equal(noClaim.json.error.code, 'DEVICE_NOT_FOUND')
  const approved = await call(srv, op, 'POST', `/v1/devices/${victim.deviceId}/approve`, { serial: replacement.serial, reason: 'board replaced, ticket 42' })
  t.equal(approved.status, 200, JSON.stringify(approved.json))
  t.equal((await deviceCall(srv, replacement, 'GET', '/v1/device/update')).status, 200, 'the approved device gets the assignment')
  const old = await deviceCall(srv, proven, 'GET', '/v1/device/update')
  t.equal(old.json.error.code, 'DEVICE_CERT_REVOKED', 'every other key of the device is revoked')
  t.equal((await deviceCall(srv, attacker, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_CERT_REVOKED', 'including other claims')
  t.equal((await call(srv, op, 'POST', `/v1/devices/${victim.deviceId}/approve`, { reason: 'again' })).json.error.code, 'DEVICE_CLAIM_NOT_FOUND')

  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${victim.deviceId}&limit=100`)).json.entries.map((e: any) => e.action)
  t.same(audit, ['device.enroll', 'device.claim', 'device.re-enroll', 'device.claim', 'device.approve'])
})

t.test('renewal with the current key; revocation refused at once and listed in the CRL', async (t) => {
  const dev = await enroll(srv, await enrollmentToken(srv, 'renew-group'), { keyType: 'ecdsa' })
  const renewed = await deviceCall(srv, dev, 'POST', '/v1/device/certificate', { csr: await createCsr(dev.deviceId, dev.key) })
  t.equal(renewed.status, 200, JSON.stringify(renewed.json))
  t.not(renewed.json.serial, dev.serial)
  const next = { ...dev, serial: renewed.json.serial }
  t.equal((await deviceCall(srv, next, 'GET', '/v1/device/update')).status, 204, 'the device keeps working with its renewed certificate')
  t.equal((await deviceCall(srv, dev, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_CERT_REVOKED', 'the superseded one is revoked')
  const wrongName = await deviceCall(srv, next, 'POST', '/v1/device/certificate', { csr: await createCsr('someone-else', dev.key) })
  t.equal(wrongName.json.error.code, 'CERT_CSR_INVALID')

  const revoked = await call(srv, op, 'POST', `/v1/devices/${dev.deviceId}/revoke`, { reason: 'stolen' })
  t.same(revoked.json.revoked, [next.serial])
  const refused = await deviceCall(srv, next, 'GET', '/v1/device/update')
  t.equal(refused.status, 401)
  t.equal(refused.json.error.code, 'DEVICE_CERT_REVOKED')
  const ca = (await call(srv, undefined, 'GET', '/v1/device-ca/certificate')).raw.toString()
  const crl = parseRevocationList((await call(srv, undefined, 'GET', '/v1/device-ca/crl')).raw.toString(), ca)
  t.ok(crl.serials.has(next.serial) && crl.serials.has(dev.serial), 'the CRL (signed by the device CA) lists both')
  const certs = (await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}/certificates`)).json.certificates
  t.same(certs.map((c: any) => c.state), ['revoked', 'revoked'])

  const all = (await call(srv, op, 'GET', '/v1/audit?limit=1000')).json.entries
  const actions = new Set(all.map((e: any) => e.action))
  for (const a of ['enrollment-token.create', 'device.enroll', 'device-cert.renew', 'device-cert.revoke']) t.ok(actions.has(a), `audited: ${a}`)
  t.equal(verifyChain(all).ok, true, 'the hash chain holds')
})

t.test('an enrollment token with requireTpm refuses a key without attestation', async (t) => {
  const res = await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'tpm-only', maxUses: 5, ttlSeconds: 3600, requireTpm: true })
  t.equal(res.status, 201)
  await t.rejects(enroll(srv, res.json.token), /403 .*ENROLL_TPM_REQUIRED/)
  const withAttestation = await call(srv, undefined, 'POST', '/v1/device/enroll', { ...(await enrollBody('hw-att', res.json.token, await createCsr('hw-att', FileDeviceKey.generate()))), attestation: { quote: 'x' } })
  t.equal(withAttestation.json.error.code, 'ATTESTATION_NOT_SUPPORTED', 'no verifier configured: an attestation is not silently ignored')
})

t.test('an expired certificate is refused', async (t) => {
  t.equal((await deviceCall(short, expiring, 'GET', '/v1/device/update')).status, 204, 'valid until its notAfter')
  await sleep(Math.max(0, Date.parse(expiring.notAfter) - Date.now()) + 1500)
  const refused = await deviceCall(short, expiring, 'GET', '/v1/device/update')
  t.equal(refused.status, 401)
  t.equal(refused.json.error.code, 'DEVICE_CERT_EXPIRED')
})

/**
 * Deltas meet the fleet: publishing a release plans a delta from the version enrolled
 * devices actually run (device_installed), and the poll then offers that delta in the
 * signed assignment; the patch downloads with the device credential and rebuilds the
 * target with the client-sdk applier.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta } from '../../client-sdk/src/delta/index.js'
import { canonicalWire } from '../../signing/canonical-json.js'
import { TrustedRoot, verifyAssignment, verifyDelta, checkUpdate, verifyRelease } from '../../signing/verify/index.js'
import { call, sha256 } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { imagePair, pushRelease } from '../helpers/deltas.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('a delta planned from what devices run is offered on the poll', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(1024 * 1024)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const et = await enrollmentToken(srv)
  const dev = await enroll(srv, et, { installed: [{ name: 'rootfs', version: '1.0.0', sha256: v1.sha256, securityVersion: 1 }] })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })

  // the publish planned a delta 1.0.0 → 1.1.0 because a device runs 1.0.0
  const deadline = Date.now() + 60_000
  let delta: any
  while (!delta || delta.state !== 'ready') {
    if (Date.now() > deadline) throw new Error(`no ready delta: ${JSON.stringify(delta)}`)
    await new Promise((r) => setTimeout(r, 200))
    delta = (await call(srv, op, 'GET', `/v1/deltas?to=${v2.id}`)).json.deltas[0]
  }
  t.equal(delta.from, v1.id, 'planned from the installed version')

  await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], start: true, reason: 'delta test' })
  const poll = await deviceCall(srv, dev, 'GET', '/v1/device/update')
  t.equal(poll.status, 200)
  t.ok(poll.json.delta && poll.json.patch, 'the assignment offers the delta')
  const trusted = TrustedRoot.fromPinned((await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw)
  const a = verifyAssignment(trusted, Buffer.from(canonicalWire(poll.json.assignment)), { deviceId: dev.deviceId }).assignment
  const d = verifyDelta(trusted, Buffer.from(canonicalWire(poll.json.delta))).delta
  const rel = verifyRelease(trusted, Buffer.from(canonicalWire(poll.json.release))).release
  checkUpdate({ assignment: a, release: rel, delta: d }, { hardware: 'rpi5', securityVersion: 1, installedSha256: v1.sha256 })
  t.equal(a.delta?.patchSha256, d.patchSha256, 'the signed assignment names the signed delta')

  const patch = await deviceCall(srv, dev, 'GET', poll.json.patch.url)
  t.equal(patch.status, 200, 'the device downloads the patch with its credential')
  t.equal(sha256(patch.raw), d.patchSha256)
  const dir = await mkdtemp(join(tmpdir(), 'slipway-fleet-delta-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'source'), source)
  await writeFile(join(dir, 'patch'), patch.raw)
  await applyDelta(join(dir, 'source'), join(dir, 'patch'), join(dir, 'target'))
  t.equal(sha256(await readFile(join(dir, 'target'))), v2.sha256, 'the patch rebuilds the CI-signed image')
})

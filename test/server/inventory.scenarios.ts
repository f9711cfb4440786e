/**
 * Inventory and integrity over real HTTP (issue 12 §3-4), as one scenario run on
 * embedded SQLite and on PostgreSQL (inventory-*.test.ts).
 */
import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import type { TestServer } from '../helpers/server.js'

const pkgDigest = (list: Array<{ name: string; version: string }>) =>
  createHash('sha256')
    .update([...new Set(list.map((p) => `${p.name}\t${p.version}\n`))].sort().join(''))
    .digest('hex')

export function inventoryOf(kernel: string, packages: Array<{ name: string; version: string }>, over: Record<string, unknown> = {}) {
  return {
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    kernel,
    agentVersion: '0.1.0',
    packages: { digest: pkgDigest(packages), count: packages.length },
    models: [{ name: 'llm', version: '1.0.0', sha256: 'a'.repeat(64) }],
    storage: [
      { name: 'slot-a', freeBytes: 1000 },
      { name: 'data', freeBytes: 5000 },
    ],
    bootloader: 'uboot',
    tpm: false,
    ...over,
  }
}

export async function inventoryScenario(t: Test, srv: TestServer): Promise<{ op: string; a: string; b: string }> {
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const token = await enrollmentToken(srv, 'inv')
  const a = await enroll(srv, token, { installed: [installedOf(v1)] })
  const b = await enroll(srv, token, { installed: [installedOf(v1)] })
  const oldSsl = [
    { name: 'openssl', version: '3.0.14-1~deb12u2' },
    { name: 'libc6', version: '2.36-9+deb12u7' },
  ]
  const newSsl = [
    { name: 'openssl', version: '3.0.15-1~deb12u1' },
    { name: 'libc6', version: '2.36-9+deb12u7' },
  ]

  // first report: the server lacks the list, so it asks for it
  const first = await deviceCall(srv, a, 'PUT', '/v1/device/inventory', inventoryOf('6.1.0-27-arm64', oldSsl))
  t.equal(first.status, 200, first.raw.toString())
  t.same(first.json, { changed: true, wantPackages: true })
  const withList = inventoryOf('6.1.0-27-arm64', oldSsl)
  const listed = await deviceCall(srv, a, 'PUT', '/v1/device/inventory', { ...withList, packages: { ...withList.packages, list: oldSsl } })
  t.same(listed.json, { changed: false, wantPackages: false }, 'the list arrives; the facts did not change')
  const moved = await deviceCall(srv, a, 'PUT', '/v1/device/inventory', inventoryOf('6.1.0-27-arm64', oldSsl, { storage: [{ name: 'data', freeBytes: 1 }, { name: 'slot-a', freeBytes: 2 }] }))
  t.same(moved.json, { changed: false, wantPackages: false }, 'free space alone is no change')
  const bInv = inventoryOf('6.1.0-28-arm64', newSsl, { tpm: true })
  await deviceCall(srv, b, 'PUT', '/v1/device/inventory', { ...bInv, packages: { ...bInv.packages, list: newSsl } })

  const bad = await deviceCall(srv, a, 'PUT', '/v1/device/inventory', { ...withList, packages: { ...withList.packages, list: newSsl } })
  t.equal(bad.status, 400)
  t.equal(bad.json.error.code, 'INVENTORY_PACKAGES_MISMATCH', 'a list that is not the digest is refused')

  // the device view: latest inventory, history with one row per change
  let shown = (await call(srv, op, 'GET', `/v1/devices/${a.deviceId}`)).json
  t.match(shown.inventory, { kernel: '6.1.0-27-arm64', bootloader: 'uboot', tpm: false, packagesListStored: true, storage: [{ name: 'data', freeBytes: 1 }] })
  t.equal(shown.inventory.history.length, 1, 'three reports, one change')
  await deviceCall(srv, a, 'PUT', '/v1/device/inventory', inventoryOf('6.1.0-28-arm64', oldSsl))
  shown = (await call(srv, op, 'GET', `/v1/devices/${a.deviceId}`)).json
  t.equal(shown.inventory.history.length, 2, 'a new kernel is a change')
  await deviceCall(srv, a, 'PUT', '/v1/device/inventory', inventoryOf('6.1.0-27-arm64', oldSsl))

  // exact searches
  const ids = async (q: string) => {
    const r = await call(srv, op, 'GET', `/v1/devices?${q}`)
    t.equal(r.status, 200, `${q}: ${r.raw.toString().slice(0, 200)}`)
    return (r.json.devices as Array<{ id: string }>).map((d) => d.id).sort()
  }
  t.same(await ids('inventory.kernel=6.1.0-27-arm64'), [a.deviceId])
  t.same(await ids('inventory.kernel=6.1.0-28-arm64'), [b.deviceId])
  t.same(await ids('inventory.os=debian-12'), [a.deviceId, b.deviceId].sort())
  t.same(await ids('inventory.tpm=true'), [b.deviceId])
  t.same(await ids('inventory.model=llm@1.0.0&inventory.bootloader=uboot'), [a.deviceId, b.deviceId].sort())
  t.same(await ids('inventory.model=llm@2.0.0'), [])
  // package searches in Debian order
  t.same(await ids('package=openssl&versionLt=3.0.15'), [a.deviceId], 'which devices run openssl < 3.0.15')
  t.same(await ids('package=openssl&versionGte=3.0.15'), [b.deviceId])
  t.same(await ids('package=openssl&versionEq=3.0.15-1~deb12u1'), [b.deviceId])
  t.same(await ids('package=libc6'), [a.deviceId, b.deviceId].sort())
  t.same(await ids('package=nothing-such'), [])
  const total = (await call(srv, op, 'GET', '/v1/devices?package=openssl&versionLt=3.0.15&limit=1')).json.total
  t.equal(total, 1, 'the total counts the package search too')
  const noPkg = await call(srv, op, 'GET', '/v1/devices?versionLt=3.0.15')
  t.equal(noPkg.json.error.code, 'INVENTORY_QUERY_INVALID')
  const badVer = await call(srv, op, 'GET', '/v1/devices?package=openssl&versionLt=a%20b')
  t.equal(badVer.json.error.code, 'INVENTORY_VERSION_INVALID')

  // a rollout selector on inventory fields
  await publish(srv, { version: '1.1.0' })
  const dry = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { inventory: { kernel: '6.1.0-28-arm64' } },
    phases: [{ percent: 100, minDevices: 0, soakSeconds: 0 }],
    dryRun: true,
  })
  t.equal(dry.status, 200, dry.raw.toString())
  t.equal(dry.json.matching ?? dry.json.reach?.matching ?? dry.json.devices, 1, 'the dry run counts the one device on that kernel')
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { inventory: { kernel: '6.1.0-28-arm64' } },
    phases: [{ percent: 100, minDevices: 0, soakSeconds: 0 }],
    start: true,
    reason: 'kernel 28 only',
  })
  t.equal(created.status, 201, created.raw.toString())
  t.equal((await deviceCall(srv, b, 'GET', '/v1/device/update')).status, 200, 'the device on the selected kernel is offered the release')
  t.equal((await deviceCall(srv, a, 'GET', '/v1/device/update')).status, 204, 'the other is not')
  const explain = (await call(srv, op, 'GET', `/v1/devices/${a.deviceId}/explain`)).json
  t.match(JSON.stringify(explain.reasons), /inventory\.kernel 6\.1\.0-28-arm64, the device reports 6\.1\.0-27-arm64/, 'explain names the inventory key')

  // integrity findings: one for a known release, one for an unknown one
  const drift = (id: string, seq: number, release: { name: string; version: string }, sha256: string) => ({
    id,
    seq,
    kind: 'integrity',
    reason: { code: 'INTEGRITY_DRIFT', message: 'the active slot no longer hashes to its signed sha256' },
    integrity: { target: 'os', release, sha256, actual: 'b'.repeat(64), firstDifferingMiB: 3, checkedBytes: 4096, elapsedMs: 5 },
  })
  const r1 = await deviceCall(srv, a, 'POST', '/v1/device/security-events', drift('int-1', 100, { name: 'rootfs', version: '1.0.0' }, v1.sha256))
  t.equal(r1.status, 200, r1.raw.toString())
  t.match(r1.json, { accepted: true, releaseKnown: true })
  const r2 = await deviceCall(srv, b, 'POST', '/v1/device/security-events', drift('int-2', 100, { name: 'rootfs', version: '9.9.9' }, 'c'.repeat(64)))
  t.match(r2.json, { accepted: true, releaseKnown: false }, 'an unknown release: stored and flagged, never trusted')
  t.match((await deviceCall(srv, a, 'POST', '/v1/device/security-events', drift('int-1', 100, { name: 'rootfs', version: '1.0.0' }, v1.sha256))).json, { accepted: false })
  const missing = await deviceCall(srv, a, 'POST', '/v1/device/security-events', { ...drift('int-3', 101, { name: 'rootfs', version: '1.0.0' }, v1.sha256), integrity: undefined })
  t.equal(missing.json.error.code, 'INTEGRITY_DETAILS_MISSING')
  t.same(await ids('integrity=drift'), [a.deviceId, b.deviceId].sort())
  t.same(await ids('integrity=timeout'), [])
  shown = (await call(srv, op, 'GET', `/v1/devices/${b.deviceId}`)).json
  t.match(shown.integrity, [{ state: 'drift', reports: 1, releaseKnown: false }])
  shown = (await call(srv, op, 'GET', `/v1/devices/${a.deviceId}`)).json
  t.match(shown.integrity, [{ state: 'drift', reports: 1, releaseKnown: true, lastReport: { integrity: { firstDifferingMiB: 3 } } }])
  const audit = (await call(srv, op, 'GET', `/v1/audit?subject=device:${a.deviceId}`)).json.entries
  t.match(audit.at(-1), { action: 'device.integrity-drift', reason: 'INTEGRITY_DRIFT', after: { firstDifferingMiB: 3, releaseKnown: true } })
  const metrics = await fetch(`${srv.url}/metrics`).then((r) => r.text())
  t.match(metrics, /slipway_device_integrity_findings_total\{state="drift",release_known="true"\} 1/)
  t.match(metrics, /slipway_device_integrity_findings_total\{state="drift",release_known="false"\} 1/)
  return { op, a: a.deviceId, b: b.deviceId }
}

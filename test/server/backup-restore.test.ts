/**
 * `slipway backup` while the embedded server runs, `slipway restore` onto a fresh data
 * folder, and the fleet carries on against the restored server: the same devices
 * (their credentials), rollout, blobs and audit chain, which still verifies.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { call, sha256 } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('backup online, restore onto a fresh folder, the fleet carries on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-backup-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const srv = await startServer()
  let srvOpen = true
  t.teardown(() => (srvOpen ? srv.close() : undefined))
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv)
  const devices = [
    await enroll(srv, et, { installed: [installedOf(v1)] }),
    await enroll(srv, et, { installed: [installedOf(v1)] }),
  ]
  const ro = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100 }], start: true, reason: 'before the backup' })
  t.equal(ro.status, 201)
  const before = await deviceCall(srv, devices[0]!, 'GET', '/v1/device/update')
  t.equal(before.status, 200)

  const backup = join(dir, 'backup')
  const b = await slipway(['backup', backup], { SLIPWAY_DATA_DIR: srv.config.dataDir }).done
  t.equal(b.code, 0, `backup while the server runs: ${b.stderr}`)
  await srv.close()
  srvOpen = false

  const fresh = join(dir, 'restored')
  const r = await slipway(['restore', backup], { SLIPWAY_DATA_DIR: fresh }).done
  t.equal(r.code, 0, r.stderr)
  const again = await slipway(['restore', backup], { SLIPWAY_DATA_DIR: fresh }).done
  t.equal(again.code, 1)
  t.match(again.stderr, /error: RESTORE_TARGET_NOT_EMPTY/)

  const restored = await startServer({ SLIPWAY_DATA_DIR: fresh })
  t.teardown(() => restored.close())
  t.equal(restored.adminToken, '', 'the restored server knows its admin: no new bootstrap')
  // the same devices, by their credentials; the same rollout and assignment
  const same = await deviceCall(restored, devices[0]!, 'GET', '/v1/device/update')
  t.equal(same.status, 200)
  t.equal(same.json.assignment.signed.rolloutId, ro.json.rollout.id)
  t.equal(same.json.assignment.signed.counter, before.json.assignment.signed.counter, 'the same assignment, not a new one')
  const other = await deviceCall(restored, devices[1]!, 'GET', '/v1/device/update')
  t.equal(other.json.assignment.signed.release.version, '1.1.0', 'a device that had not polled gets the rollout')
  const blob = await deviceCall(restored, devices[1]!, 'GET', `/v1/blobs/${v2.sha256}`)
  t.equal(sha256(blob.raw), v2.sha256, 'the blobs came back')
  const verify = await slipway(['audit', 'verify'], { SLIPWAY_URL: restored.url, SLIPWAY_TOKEN: op }).done
  t.equal(verify.code, 0, verify.stderr)
  t.match(verify.stdout, /^OK: [1-9]\d* entries verify$/m, 'the audit chain verifies after the restore')
  // the online key came back too: the signature on the assignment is the same key's
  t.equal(same.json.assignment.signatures[0].keyid, before.json.assignment.signatures[0].keyid)
})

t.test('backup refuses scale-out, and a data folder with no database', async (t) => {
  const s = await slipway(['backup', '/tmp/x'], { DATABASE_URL: 'postgres://127.0.0.1/none' }).done
  t.equal(s.code, 1)
  t.match(s.stderr, /error: BACKUP_SCALE_OUT: .*pg_dump/)
  const dir = await mkdtemp(join(tmpdir(), 'slipway-backup-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const n = await slipway(['backup', '/etc'], { SLIPWAY_DATA_DIR: dir }).done
  t.equal(n.code, 1)
  t.match(n.stderr, /error: DATABASE_NOT_FOUND/)
})

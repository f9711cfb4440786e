/**
 * Device management over real HTTP: PATCH one device, bulk by selector, dynamic groups
 * (saved selectors) a rollout can target, every change audited (the chain verifies),
 * lastSeenAt moved by a poll at most once a minute, per-device progress from the
 * agent's events, and the read-only `viewer` role that reads but cannot act.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('patch, bulk, dynamic groups, audit, viewer', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const viewer = await srv.token('viewer')
  const tok = await enrollmentToken(srv, 'field')
  const a = await enroll(srv, tok, { hardware: 'rpi5', tags: ['lab'] })
  const b = await enroll(srv, tok, { hardware: 'rpi5', tags: ['lab', 'eu'] })
  const c = await enroll(srv, tok, { hardware: 'rpi4', tags: [] })

  const p = await call(srv, op, 'PATCH', `/v1/devices/${a.deviceId}`, { group: 'canary', addTags: ['eu'], reason: 'move to canary' })
  t.equal(p.status, 200, p.raw.toString())
  t.equal(p.json.group, 'canary')
  t.same(p.json.tags, ['eu', 'lab'])
  t.notOk('credentialHash' in p.json, 'the credential hash is never shown')

  const bad: Array<[string, string, unknown, number, string]> = [
    ['PATCH', `/v1/devices/${a.deviceId}`, {}, 400, 'DEVICE_PATCH_EMPTY'],
    ['PATCH', `/v1/devices/${a.deviceId}`, { tags: ['x'], addTags: ['y'] }, 400, 'DEVICE_PATCH_INVALID'],
    ['PATCH', `/v1/devices/${a.deviceId}`, { tags: ['bad tag'] }, 400, 'VALIDATION_FAILED'],
    ['PATCH', '/v1/devices/nope', { group: 'x' }, 404, 'DEVICE_NOT_FOUND'],
    ['POST', '/v1/devices/bulk-update', { selector: {}, set: { group: 'x' } }, 400, 'DEVICE_SELECTOR_EMPTY'],
    ['POST', '/v1/devices/bulk-update', { selector: { savedGroup: 'nope' }, set: { group: 'x' } }, 404, 'DEVICE_GROUP_NOT_FOUND'],
    ['PUT', '/v1/device-groups/empty', { selector: {} }, 400, 'DEVICE_SELECTOR_EMPTY'],
  ]
  for (const [method, path, body, status, code] of bad) {
    const r = await call(srv, op, method, path, body)
    t.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}`)
    t.equal(r.json.error.code, code)
  }
  t.equal((await call(srv, op, 'GET', `/v1/devices/${a.deviceId}`)).json.group, 'canary', 'a refused patch changed nothing')

  const bulk = await call(srv, op, 'POST', '/v1/devices/bulk-update', { selector: { hardware: 'rpi5', tags: ['lab'] }, set: { addTags: ['pilot'] }, reason: 'pilot wave' })
  t.same(bulk.json, { matched: 2, changed: 2 })
  const again = await call(srv, op, 'POST', '/v1/devices/bulk-update', { selector: { hardware: 'rpi5', tags: ['lab'] }, set: { addTags: ['pilot'] }, reason: 'pilot wave' })
  t.same(again.json, { matched: 2, changed: 0 }, 'a no-op changes and audits nothing')

  const g = await call(srv, op, 'PUT', '/v1/device-groups/eu-pilots', { selector: { tags: ['eu', 'pilot'] }, description: 'EU pilot devices', reason: 'define' })
  t.equal(g.status, 200, g.raw.toString())
  const groups = await call(srv, viewer, 'GET', '/v1/device-groups')
  t.same(groups.json.groups.map((x: any) => [x.name, x.devices]), [['eu-pilots', 2]])
  const members = await call(srv, viewer, 'GET', '/v1/device-groups/eu-pilots')
  t.same(members.json.devices.map((d: any) => d.id).sort(), [a.deviceId, b.deviceId].sort())

  // a rollout targets the dynamic group: its selector is copied, with the group's name kept
  await publish(srv, { version: '1.0.0', hardware: ['rpi5', 'rpi4'] })
  const dry = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.0.0', selector: { savedGroup: 'eu-pilots' }, phases: [{ percent: 100 }], dryRun: true })
  t.equal(dry.status, 200, dry.raw.toString())
  t.equal(dry.json.matching, 2)
  const r = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.0.0', selector: { savedGroup: 'eu-pilots' }, phases: [{ percent: 100 }], start: true, reason: 'pilots' })
  t.equal(r.status, 201, r.raw.toString())
  t.same(r.json.rollout.selector, { tags: ['eu', 'pilot'], savedGroup: 'eu-pilots' })
  t.equal((await deviceCall(srv, c, 'GET', '/v1/device/update')).status, 204, 'a device outside the group gets nothing')

  // progress: the agent's events, step by step
  const poll = await deviceCall(srv, a, 'GET', '/v1/device/update')
  t.equal(poll.status, 200)
  const rolloutId = poll.json.assignment.signed.rolloutId
  let seq = 0
  for (const state of ['downloading', 'installing']) {
    const e = await deviceCall(srv, a, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq: ++seq, rolloutId, release: { name: 'rootfs', version: '1.0.0' }, state }] })
    t.equal(e.status, 200)
  }
  const rep = await call(srv, viewer, 'GET', `/v1/devices/${a.deviceId}/reports`)
  t.equal(rep.status, 200, rep.raw.toString())
  t.equal(rep.json.progress.state, 'installing')
  t.same(rep.json.progress.steps.map((s: any) => s.state), ['downloading', 'installing'])
  t.equal(rep.json.progress.release, 'rootfs@1.0.0')

  // the viewer reads everything and acts on nothing
  for (const path of ['/v1/devices', `/v1/devices/${a.deviceId}`, '/v1/rollouts', '/v1/audit', '/v1/fleet/overview', '/v1/releases'])
    t.equal((await call(srv, viewer, 'GET', path)).status, 200, `viewer reads ${path}`)
  for (const [method, path, body] of [
    ['PATCH', `/v1/devices/${a.deviceId}`, { group: 'x' }],
    ['POST', '/v1/devices/bulk-update', { selector: { group: 'field' }, set: { group: 'x' } }],
    ['PUT', '/v1/device-groups/x', { selector: { group: 'field' } }],
    ['POST', `/v1/rollouts/${rolloutId}/pause`, { reason: 'x' }],
  ] as const) {
    const res = await call(srv, viewer, method, path, body)
    t.equal(res.status, 403, `viewer may not ${method} ${path}`)
    t.equal(res.json.error.code, 'AUTH_FORBIDDEN')
  }

  const audit = (await call(srv, viewer, 'GET', '/v1/audit')).json.entries
  t.ok(verifyChain(audit).ok, 'the audit chain verifies')
  t.same(
    // enrollments are audited too (key-bound identity): this looks at the management entries
    audit.filter((e: any) => e.subject.startsWith('device') && e.action !== 'device.enroll').map((e: any) => `${e.action} ${e.subject}`).sort(),
    [`device.update device:${a.deviceId}`, `device.bulk-update device:${a.deviceId}`, `device.bulk-update device:${b.deviceId}`, 'device-group.save device-group:eu-pilots'].sort(),
  )
  const first = audit.find((e: any) => e.action === 'device.update')
  t.same([first.before, first.after, first.reason], [{ group: 'field', tags: ['lab'] }, { group: 'canary', tags: ['eu', 'lab'] }, 'move to canary'])

  const ov = await call(srv, viewer, 'GET', '/v1/fleet/overview')
  t.equal(ov.json.total, 3)
  t.same(ov.json.byHardware, [{ key: 'rpi5', devices: 2 }, { key: 'rpi4', devices: 1 }])
  t.same(ov.json.rollouts, { running: 1, paused: 0 })

  const del = await call(srv, op, 'DELETE', '/v1/device-groups/eu-pilots?reason=done')
  t.equal(del.status, 204)
  t.equal((await call(srv, op, 'GET', '/v1/device-groups/eu-pilots')).json.error.code, 'DEVICE_GROUP_NOT_FOUND')
})

t.test('lastSeenAt: a poll writes it at most once a minute', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const d = await enroll(srv, await enrollmentToken(srv))
  const seen = async () => (await call(srv, op, 'GET', `/v1/devices/${d.deviceId}`)).json.lastSeenAt as string | null
  const enrolledAt = await seen()
  t.ok(enrolledAt, 'enrollment counts as seen')
  await deviceCall(srv, d, 'GET', '/v1/device/update')
  t.equal(await seen(), enrolledAt, 'a poll within the minute does not write')
  // move it back in time: the next poll writes
  const old = new Date(Date.now() - 5 * 60_000).toISOString()
  await srv.container.repos.fleet.inventory.touch(d.deviceId, old, new Date().toISOString())
  t.equal(await seen(), old)
  await deviceCall(srv, d, 'GET', '/v1/device/update')
  const after = await seen()
  t.ok(after! > old, 'a poll after the minute writes')
  const list = await call(srv, op, 'GET', '/v1/devices?notSeenFactor=1')
  t.same([list.json.total, list.json.devices.length], [0, 0], 'a device just seen is not among the unseen')
  await srv.container.repos.fleet.inventory.touch(d.deviceId, old, new Date().toISOString())
  const unseen = await call(srv, op, 'GET', '/v1/devices?notSeenFactor=1')
  t.same(unseen.json.devices.map((x: any) => x.id), [d.deviceId])
  const search = await call(srv, op, 'GET', `/v1/devices?search=${encodeURIComponent(d.hardwareId.slice(0, 8))}`)
  t.same(search.json.devices.map((x: any) => x.id), [d.deviceId], 'search by hardware id prefix')
  t.equal((await call(srv, op, 'GET', '/v1/devices?search=%25')).json.total, 0, 'a LIKE wildcard in the search matches itself')
})

t.test('CLI: device set, bulk-update, device-group save/list/show/delete', async (t) => {
  const { slipway } = await import('../helpers/cli.js')
  const srv = await startServer()
  t.teardown(() => srv.close())
  const tok = await enrollmentToken(srv, 'field')
  const a = await enroll(srv, tok, { hardware: 'rpi4', tags: ['lab'] })
  await enroll(srv, tok, { hardware: 'rpi4' })
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: await srv.token('operator') }
  const run = (...args: string[]) => slipway(args, env).done
  const set = await run('device', 'set', a.deviceId, '--group', 'canary', '--add-tag', 'eu', '--reason', 'canary wave')
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, `device ${a.deviceId}: group canary, tags eu,lab`)
  const noReason = await run('device', 'set', a.deviceId, '--group', 'x')
  t.equal(noReason.code, 64, 'a change needs a reason')
  const bulk = await run('device', 'bulk-update', '--selector', 'hardware=rpi4', '--add-tag', 'pi4', '--reason', 'inventory')
  t.equal(bulk.code, 0, bulk.stderr)
  t.match(bulk.stdout, '2 devices matched, 2 changed')
  const save = await run('device-group', 'save', 'pi4-lab', '--selector', 'tag=pi4,tag=lab', '--description', 'lab Pi 4s', '--reason', 'define')
  t.equal(save.code, 0, save.stderr)
  const list = await run('device-group', 'list')
  t.match(list.stdout, /pi4-lab\s+\{"tags":\["pi4","lab"\]\}\s+1\s+lab Pi 4s/)
  const show = await run('device-group', 'show', 'pi4-lab')
  t.match(show.stdout, a.deviceId)
  const del = await run('device-group', 'delete', 'pi4-lab', '--reason', 'done')
  t.equal(del.code, 0, del.stderr)
  const gone = await run('device-group', 'show', 'pi4-lab')
  t.equal(gone.code, 1)
  t.match(gone.stderr, /DEVICE_GROUP_NOT_FOUND \(404\)/)
})

t.test('PostgreSQL: migration 009 (viewer role, groups, last seen) and the same routes', async (t) => {
  const { freshPostgres } = await import('../helpers/postgres.js')
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  const srv = await startServer({ DATABASE_URL: pg.url })
  t.teardown(() => srv.close())
  const viewer = await srv.token('viewer')
  const op = await srv.token('operator')
  const d = await enroll(srv, await enrollmentToken(srv))
  t.equal((await call(srv, op, 'PATCH', `/v1/devices/${d.deviceId}`, { addTags: ['x'], reason: 'r' })).json.tags[0], 'x')
  const found = await call(srv, viewer, 'GET', `/v1/devices?search=${d.hardwareId.slice(0, 6)}&notSeenFactor=1`)
  t.same([found.status, found.json.total], [200, 0], 'search and last-seen filters run on PostgreSQL (just enrolled: seen)')
  t.equal((await call(srv, op, 'PUT', '/v1/device-groups/g', { selector: { tags: ['x'] } })).status, 200)
  t.equal((await call(srv, viewer, 'GET', '/v1/device-groups')).json.groups[0].devices, 1)
  t.equal((await call(srv, viewer, 'GET', '/v1/fleet/overview')).json.total, 1)
  t.equal((await call(srv, viewer, 'PATCH', `/v1/devices/${d.deviceId}`, { group: 'y' })).status, 403)
})

/**
 * `slipway enroll-token …` and `slipway device …`: the real bin over real HTTP against
 * an embedded server; devices enroll with the token the CLI printed.
 */
import t from 'tap'
import { slipway } from '../helpers/cli.js'
import { enroll, installedOf, publish } from '../helpers/fleet.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { startServer } from '../helpers/server.js'

t.test('enroll-token and device commands', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }
  const run = (...args: string[]) => slipway(args, env).done
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })

  // enrollment tokens
  const created = await run('enroll-token', 'create', '--group', 'field', '--uses', '3', '--ttl', '3600')
  t.equal(created.code, 0, created.stderr)
  const token = created.stdout.trim()
  t.match(token, /^sle_[A-Za-z0-9_-]{43}$/, 'the token alone on stdout, for scripts')
  const tokenId = /created enrollment token (\S+) for group field: 3 uses/.exec(created.stderr)?.[1]
  t.ok(tokenId)
  const a = await enroll(srv, token, { hardwareId: 'pi-a', hardware: 'rpi5', tags: ['lab'], installed: [installedOf(v1)] })
  const b = await enroll(srv, token, { hardwareId: 'pi-b', hardware: 'rpi4', installed: [installedOf(v2)] })
  let list = await run('enroll-token', 'list')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, new RegExp(`${tokenId}\\s+field\\s+2/3\\s+active`))
  t.notOk(list.stdout.includes(token), 'the list never shows the token')
  const revoked = await run('enroll-token', 'revoke', tokenId!)
  t.equal(revoked.code, 0, revoked.stderr)
  list = await run('enroll-token', 'list')
  t.match(list.stdout, new RegExp(`${tokenId}\\s+field\\s+2/3\\s+revoked`))
  await t.rejects(enroll(srv, token!, { hardwareId: 'pi-c' }), /ENROLLMENT_TOKEN_INVALID/, 'a revoked token enrolls nothing')
  const again = await run('enroll-token', 'revoke', tokenId!)
  t.equal(again.code, 1)
  t.match(again.stderr, /error: ENROLLMENT_TOKEN_NOT_FOUND \(404\)/)
  const [noGroup, badUses, badTtl] = await Promise.all([
    run('enroll-token', 'create', '--uses', '3', '--ttl', '3600'),
    run('enroll-token', 'create', '--group', 'g', '--uses', 'many', '--ttl', '3600'),
    run('enroll-token', 'create', '--group', 'g', '--uses', '3', '--ttl', '5'),
  ])
  t.equal(noGroup.code, 64)
  t.match(noGroup.stderr, /--group is required/)
  t.equal(badUses.code, 64)
  t.match(badUses.stderr, /--uses must be a whole number/)
  t.equal(badTtl.code, 1, 'the server decides the ttl range')
  t.match(badTtl.stderr, /error: VALIDATION_FAILED \(400\).*ttlSeconds/)

  // devices
  const all = await run('device', 'list')
  t.equal(all.code, 0, all.stderr)
  t.match(all.stdout, /id\s+hardware id\s+hardware\s+group\s+tags\s+runs\s+last state\s+last report/)
  t.match(all.stdout, new RegExp(`${a.deviceId}\\s+pi-a\\s+rpi5\\s+field\\s+lab\\s+rootfs@1\\.0\\.0\\s+-\\s+-`))
  t.match(all.stdout, new RegExp(`${b.deviceId}\\s+pi-b\\s+rpi4\\s+field\\s+-\\s+rootfs@1\\.1\\.0`))
  const byTag = await run('device', 'list', '--tag', 'lab')
  t.ok(byTag.stdout.includes(a.deviceId) && !byTag.stdout.includes(b.deviceId), '--tag filters')
  const byVersion = await run('device', 'list', '--version', 'rootfs@1.1.0')
  t.ok(byVersion.stdout.includes(b.deviceId) && !byVersion.stdout.includes(a.deviceId), '--version filters')
  t.equal((await run('device', 'list', '--group', 'elsewhere')).stdout, 'no devices\n')
  const paged = await run('device', 'list', '--limit', '1')
  t.match(paged.stderr, /more devices may follow: --after /)
  const asJson = JSON.parse((await run('device', 'list', '--state', 'succeeded', '--json')).stdout)
  t.same(asJson.devices, [], '--state filters (no device reported yet)')

  // a rollout that reaches device a (rpi5) but not b (rpi4: the release is built for rpi5)
  const ro = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100 }], start: true, reason: 'test' })
  t.equal(ro.status, 201)
  t.equal((await deviceCall(srv, a, 'GET', '/v1/device/update')).status, 200)
  const shown = await run('device', 'show', a.deviceId)
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /hardware id\s+pi-a/)
  t.match(shown.stdout, /runs\s+rootfs@1\.0\.0 \(securityVersion 1\)/)
  t.match(shown.stdout, new RegExp(`${ro.json.rollout.id}\\s+1\\s+assigned\\s+-`), 'its rollout membership')
  const explainA = await run('device', 'explain', a.deviceId)
  t.equal(explainA.code, 0, explainA.stderr)
  t.match(explainA.stdout, new RegExp(`^offered rootfs@1\\.1\\.0 by rollout ${ro.json.rollout.id}`))
  t.match(explainA.stdout, /  - .*in cohort/)
  const explainB = await run('device', 'explain', b.deviceId)
  t.match(explainB.stdout, /^not offered an update right now/)
  t.match(explainB.stdout, /built for rpi5, the device is rpi4/)
  const explainJson = JSON.parse((await run('device', 'explain', b.deviceId, '--json')).stdout)
  t.equal(explainJson.offered, null)

  const unknown = await Promise.all([run('device', 'show', 'nope'), run('device', 'explain', 'nope')])
  for (const u of unknown) {
    t.equal(u.code, 1)
    t.match(u.stderr, /error: DEVICE_NOT_FOUND \(404\): no device nope/)
  }
  const noId = await run('device', 'show')
  t.equal(noId.code, 64)
  t.match(noId.stderr, /ID is required/)
})

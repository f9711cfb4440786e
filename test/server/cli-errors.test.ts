/** Issue 11: network and auth failures print `error: CODE …` like every other CLI failure. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileKeySigner } from '../../signing/index.js'
import { slipway } from '../helpers/cli.js'
import { startServer } from '../helpers/server.js'

t.test('an unreachable server: SERVER_UNREACHABLE naming the URL', async (t) => {
  const { code, stderr } = await slipway(['rollout', 'list'], { SLIPWAY_URL: 'http://127.0.0.1:9', SLIPWAY_TOKEN: 'slw_x' }).done
  t.equal(code, 1)
  t.match(stderr, /^error: SERVER_UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:9 /)
})

t.test('a 401 during push: AUTH_INVALID, not a raw tus message', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const dir = await mkdtemp(join(tmpdir(), 'slipway-push-401-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'image.bin'), Buffer.alloc(1024, 7))
  await writeFile(join(dir, 'release.pem'), FileKeySigner.generate('ed25519').toPem(), { mode: 0o600 })
  const { code, stderr } = await slipway(
    ['push', join(dir, 'image.bin'), '--name', 'rootfs', '--version', '1.0.0', '--kind', 'os-image', '--hardware', 'rpi5', '--key', join(dir, 'release.pem')],
    { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: 'slw_not_a_real_token', SLIPWAY_CLI_STATE: dir },
  ).done
  t.equal(code, 1)
  t.match(stderr, /^error: AUTH_INVALID \(401\): /m)
})

/**
 * Issue 17, "keep the state across a failed run": the server dies in the middle of an
 * upload, `slipway push` gives up with a CODE after its retries, and the next run
 * against the restarted server resumes the same upload instead of starting over.
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { sha256 } from '../helpers/api.js'
import { serverEnv, slipway } from '../helpers/cli.js'
import { CuttingProxy } from '../helpers/cutting-proxy.js'
import { waitForFetch } from '../helpers/net.js'

const MiB = 2 ** 20

t.test('a push failed by a dead server resumes on the next run', async (t) => {
  const { dir, port, admin, env } = await serverEnv(t, 'slipway-resume-')
  const start = async () => {
    const s = slipway(['start'], env)
    t.teardown(() => s.child.kill('SIGKILL'))
    await waitForFetch(`http://127.0.0.1:${port}/healthz`, 60_000)
    return s
  }
  let server = await start()
  const ci = (await slipway(['token', 'create', '--role', 'ci', '--label', 'pipeline'], env).done).stdout.trim()

  const image = join(dir, 'image.ext4')
  const data = randomBytes(24 * MiB)
  await writeFile(image, data)
  const proxy = new CuttingProxy({ host: '127.0.0.1', port })
  const proxyUrl = await proxy.listen()
  t.teardown(() => proxy.close())
  const state = join(dir, 'cli-state')
  const pushArgs = ['push', image, '--name', 'rootfs', '--version', '1.0.0', '--kind', 'os-image', '--hardware', 'rpi5']
  const pushEnv = { SLIPWAY_URL: proxyUrl, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: state, SLIPWAY_RELEASE_KEY: join(dir, 'data', 'keys', 'release.pem') }

  // the server dies after ~6 MiB of the upload have reached it
  proxy.holdAfter = 6 * MiB
  const first = slipway(pushArgs, pushEnv)
  await new Promise((r) => proxy.once('held', r))
  await new Promise((r) => setTimeout(r, 500)) // let the server write what it received
  server.child.kill('SIGKILL')
  await server.done
  proxy.cutAll()
  proxy.holdAfter = undefined
  const failed = await first.done
  t.equal(failed.code, 1, 'the run fails once its retries are spent')
  t.match(failed.stderr, /retry 1 of/, 'it retried first')
  t.match(failed.stderr, /error: SERVER_UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:\d+/, 'and names the cause with the URL')
  const saved = await readFile(join(state, 'uploads.json'), 'utf8')
  t.match(saved, /\/v1\/uploads\/[0-9a-f]{32}/, 'the upload URL is kept for the next run')

  server = await start()
  const second = await slipway(pushArgs, pushEnv).done
  t.equal(second.code, 0, second.stderr)
  t.equal(JSON.parse(second.stdout).sha256, sha256(data))
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const received = Number(/slipway_upload_bytes_total (\d+)/.exec(metrics)?.[1])
  t.ok(received > 0 && received <= data.length - 5 * MiB, `resumed, not restarted: the restarted server received ${received} of ${data.length} bytes`)
  t.notMatch(await readFile(join(state, 'uploads.json'), 'utf8').catch(() => ''), /\/v1\/uploads\//, 'a finished push leaves no state behind')
})

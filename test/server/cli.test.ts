/**
 * The `slipway` bin as a user runs it: start, token create, push (with a resume
 * after the pushing process was killed mid-upload), SIGTERM.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { sha256 } from '../helpers/api.js'
import { serverEnv, slipway } from '../helpers/cli.js'
import { waitForFetch } from '../helpers/net.js'
import { CuttingProxy } from '../helpers/cutting-proxy.js'


t.test('a wrong config value stops the start, naming the variable', async (t) => {
  const { done } = slipway(['start'], { PORT: 'eighty' })
  const r = await done
  t.not(r.code, 0)
  t.match(r.stderr, /configuration error: PORT: must be a whole number/)
})

t.test('unknown command and missing flags are usage errors', async (t) => {
  const r = await slipway(['frobnicate'], {}).done
  t.equal(r.code, 64)
  t.match(r.stderr, /unknown command "frobnicate"/)
  const p = await slipway(['push', '/etc/hostname', '--name', 'x'], { SLIPWAY_TOKEN: 'slw_x' }).done
  t.equal(p.code, 64)
  t.match(p.stderr, /--version is required|--kind is required|is required/)
})

t.test('token refuses to create a new database in the wrong folder', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const r = await slipway(['token', 'create', '--role', 'admin'], { SLIPWAY_DATA_DIR: dir }).done
  t.equal(r.code, 1)
  t.match(r.stderr, /error: DATABASE_NOT_FOUND: no Slipway database at .*slipway\.db.*SLIPWAY_DATA_DIR/)
  t.equal(r.stdout, '', 'no token printed')
  t.same(await readdir(dir), [], 'nothing created')
})

t.test('start, create a CI token, push, resume a killed push, download, stop', async (t) => {
  const { dir, port, admin, env } = await serverEnv(t, 'slipway-cli-')
  const server = slipway(['start'], env)
  t.teardown(() => server.child.kill('SIGKILL'))
  await waitForFetch(`http://127.0.0.1:${port}/healthz`)

  const tok = await slipway(['token', 'create', '--role', 'ci', '--label', 'pipeline'], env).done
  t.equal(tok.code, 0, tok.stderr)
  const ci = tok.stdout.trim()
  t.match(ci, /^slw_[A-Za-z0-9_-]{43}$/)
  const list = await slipway(['token', 'list'], env).done
  t.match(list.stdout, /ci\s+active\s+pipeline/)
  t.notOk(list.stdout.includes(ci), 'list never shows secrets')

  const image = join(dir, 'image.ext4')
  const data = randomBytes(24 * 1024 * 1024)
  await writeFile(image, data)
  const proxy = new CuttingProxy({ host: '127.0.0.1', port })
  const proxyUrl = await proxy.listen()
  t.teardown(() => proxy.close())

  const pushArgs = ['push', image, '--name', 'rootfs', '--version', '1.4.0', '--kind', 'os-image', '--hardware', 'rpi5', '--security-version', '2']
  // signed with the dev release key the first start created (SLIPWAY_RELEASE_KEY, as a CI job would set it)
  const pushEnv = { SLIPWAY_URL: proxyUrl, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: join(dir, 'cli-state'), SLIPWAY_RELEASE_KEY: join(dir, 'data', 'keys', 'release.pem') }
  // first attempt: stall after ~5 MB, then kill the pushing process outright
  proxy.holdAfter = 5 * 1024 * 1024
  const first = slipway(pushArgs, pushEnv)
  await new Promise((r) => proxy.once('held', r))
  first.child.kill('SIGKILL')
  await first.done
  proxy.cutAll()
  const staged = (await readdir(join(dir, 'data', 'uploads'))).filter((f) => !f.endsWith('.json'))
  t.equal(staged.length, 1, 'one partial upload is staged')

  // second attempt resumes the same upload instead of starting over
  proxy.holdAfter = undefined
  const second = await slipway(pushArgs, pushEnv).done
  t.equal(second.code, 0, second.stderr)
  const out = JSON.parse(second.stdout) as { id: string; sha256: string }
  t.equal(out.sha256, sha256(data))
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const received = Number(/slipway_upload_bytes_total (\d+)/.exec(metrics)?.[1])
  // a restart from zero would make this about 29 MiB (5 MiB + the whole file)
  t.ok(received >= data.length && received < data.length + 1024 * 1024, `resumed, not restarted: ${received} bytes received for a ${data.length}-byte file`)

  const part = await fetch(`http://127.0.0.1:${port}/v1/blobs/${out.sha256}`, {
    headers: { authorization: `Bearer ${ci}`, range: 'bytes=1000-1999' },
  })
  t.equal(part.status, 206)
  t.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000)))

  const again = await slipway(pushArgs, pushEnv).done
  t.equal(again.code, 0, 'identical re-push succeeds')
  t.match(again.stderr, /already published/)

  server.child.kill('SIGTERM')
  const stopped = await server.done
  t.equal(stopped.code, 0, 'SIGTERM stops the server cleanly')
})

/** The bundled agent as a real process in an empty folder: --help, status, run --once, errors with codes. */
import { execFile } from 'node:child_process'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildBundle } from './bundle.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'

/** Async, so the loopback server in this process keeps answering while the agent runs. */
const run = (bundle: string, args: string[], cwd: string) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bundle, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH } }, (e, stdout, stderr) =>
      resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr }),
    )
  })

t.test('the bundle is one file under the size goal and runs alone', async (t) => {
  const b = await buildBundle(t)
  t.same(await readdir(b.dir), ['slipway-agent.cjs'], 'nothing else in the folder: no node_modules, no package.json')
  const size = (await stat(b.path)).size
  t.ok(size <= 250 * 1024, `bundle is ${size} bytes`)
  t.match(b.printed, /KB/, 'the build prints the size')
  const help = await run(b.path, ['--help'], b.dir)
  t.equal(help.status, 0)
  t.match(help.stdout, /slipway-agent run/)
  t.match(help.stdout, /slipway-agent enroll/)
  const bad = await run(b.path, ['status', '--config', 'missing.json'], b.dir)
  t.equal(bad.status, 1)
  t.match(bad.stderr, /^CONFIG_INVALID: /)
  const usage = await run(b.path, ['frobnicate'], b.dir)
  t.equal(usage.status, 64)
  const noToken = await run(b.path, ['enroll', '--config', 'x.json'], b.dir)
  t.equal(noToken.status, 64)
})

t.test('run --once installs an update; status shows it; a config with a bad field names it', async (t) => {
  const b = await buildBundle(t)
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(10_000, 1)
  const imageB = Buffer.alloc(20_000, 2)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  const cfg = join(dev.dir, 'agent.json')
  await writeFile(cfg, JSON.stringify({ ...dev.config, logLevel: 'warn' }))
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  const once = await run(b.path, ['run', '--once', '--config', cfg], dev.dir)
  t.equal(once.status, 0, once.stderr)
  t.match(JSON.parse(once.stdout), { outcome: 'reboot-issued', poll: 'accepted' })
  const st = await run(b.path, ['status', '--config', cfg], dev.dir)
  t.equal(st.status, 0)
  t.match(JSON.parse(st.stdout), { deviceId: 'dev-1', slots: { active: 'a', trying: 'b' }, journal: { update: { step: 'rebooting' } } })
  t.notMatch(st.stdout, /sld_test/, 'status never prints the credential')
  await writeFile(cfg, JSON.stringify({ ...dev.config, pollIntervalSeconds: 'often' }))
  const bad = await run(b.path, ['status', '--config', cfg], dev.dir)
  t.equal(bad.status, 1)
  t.match(bad.stderr, /CONFIG_INVALID: config: pollIntervalSeconds must be/)
})

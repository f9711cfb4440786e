/**
 * Issue 14 §7: a rolling upgrade on one PostgreSQL database. The previous server (the
 * commit before the newest migration was added, checked out with `git worktree`) runs,
 * devices enroll and poll it; the new server starts on the same database, migrating it
 * to the newest schema underneath the running old one; devices keep polling and
 * reporting to both, alternately, through the whole rollout; then the old one stops.
 * No request may get a 5xx and no report may be lost: every device ends `succeeded`
 * with all its reports stored. Last, it shows the upgrade rule (README "Upgrades"): the
 * old code cannot start again on a database the new code migrated.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loadConfig } from '../../server/config.js'
import { call } from '../helpers/api.js'
import { waitForOutput } from '../helpers/cli.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { freePort } from '../helpers/net.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer, type TestServer } from '../helpers/server.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()

/** The commit just before the newest migration was added (first parent of the commit that added it). */
function previousCommit(): { commit: string; newest: string } {
  const newest = readdirSync(join(ROOT, 'migrations')).filter((f) => /^\d{3}_.*\.sql$/.test(f)).sort().at(-1)!
  const added = git('log', '--first-parent', '--diff-filter=A', '--format=%H', '-1', '--', `migrations/${newest}`)
  if (!added) throw new Error(`no commit in this history adds migrations/${newest} (a shallow clone?): the rolling upgrade test needs the history`)
  return { commit: git('rev-parse', `${added}^1`), newest }
}

function startOld(dir: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join(dir, 'server/bin/slipway.mjs'), 'start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return { child, output: () => out }
}

/**
 * The previous release runs with its own dependencies, as an operator's old replicas do:
 * the current node_modules (hard-linked), plus what the previous package.json needs that
 * this one dropped, installed at the previous lockfile's version (bsdiff-node, after the
 * delta builder stopped using it: one native build, ~25 s).
 */
function installDroppedDependencies(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  const missing = Object.keys(pkg.dependencies ?? {})
    .filter((name) => !existsSync(join(dir, 'node_modules', name)))
    .map((name) => `${name}@${lock.packages[`node_modules/${name}`]?.version ?? pkg.dependencies![name]}`)
  if (missing.length > 0) execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', ...missing], { cwd: dir, stdio: 'ignore', timeout: 300_000 })
  return missing
}

const exited = (c: ChildProcess) => new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))))

t.test('rolling upgrade: the previous server and the new one side by side on one PostgreSQL database while devices poll', async (t) => {
  const { commit, newest } = previousCommit()
  const wt = mkdtempSync(join(tmpdir(), 'slipway-prev-'))
  rmSync(wt, { recursive: true })
  git('worktree', 'add', '--quiet', '--detach', wt, commit)
  t.teardown(() => {
    git('worktree', 'remove', '--force', wt)
    git('worktree', 'prune')
  })
  execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(wt, 'node_modules')])
  const installed = installDroppedDependencies(wt)
  if (installed.length > 0) t.comment(`the previous release's own dependencies: ${installed.join(', ')}`)

  const env = await scaleOutEnv(t)
  const oldData = mkdtempSync(join(tmpdir(), 'slipway-prev-data-'))
  t.teardown(() => rmSync(oldData, { recursive: true, force: true }))
  const port = await freePort()
  const adminToken = `slw_${randomBytes(32).toString('base64url')}`
  const oldEnv = { ...env, SLIPWAY_DATA_DIR: oldData, PORT: String(port), HOST: '127.0.0.1', SLIPWAY_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'info' }
  let old = startOld(wt, oldEnv)
  t.teardown(() => void old.child.kill('SIGKILL'))
  await waitForOutput(old.child, () => old.output().includes('"started"'), 120_000).catch((e) => {
    throw new Error(`the previous server (${commit.slice(0, 10)}) did not start: ${old.output()}`, { cause: e })
  })
  const oldSrv = {
    url: `http://127.0.0.1:${port}`,
    config: loadConfig(oldEnv),
    token: async (role: string) => (await call({ url: `http://127.0.0.1:${port}` } as TestServer, adminToken, 'POST', '/v1/tokens', { role, label: `test ${role}` })).json.token as string,
  } as unknown as TestServer
  const op = await oldSrv.token('operator')
  const v1 = await publish(oldSrv, { version: '1.0.0' })
  await publish(oldSrv, { version: '2.0.0' })
  const token = await enrollmentToken(oldSrv, 'field')
  // a previous server from before key-bound identity enrolls with bearer credentials: the
  // new one then runs with SLIPWAY_DEVICE_BEARER_COMPAT, the documented path for such a fleet
  type Dev = { deviceId: string; call: (srv: TestServer, method: string, path: string, body?: unknown) => ReturnType<typeof call> }
  const devices: Dev[] = []
  let bearer = false
  for (let i = 0; i < 6; i++) {
    const e = await enroll(oldSrv, token, { installed: [installedOf(v1)] }).catch((err: Error) => {
      if (!/additionalProperty.*csr|"csr"/.test(err.message)) throw err
      return undefined
    })
    if (e) {
      devices.push({ deviceId: e.deviceId, call: (srv, m, path, body) => deviceCall(srv, e, m, path, body) })
      continue
    }
    bearer = true
    const r = await call(oldSrv, undefined, 'POST', '/v1/device/enroll', { enrollmentToken: token, hardwareId: `hw-old-${i}-${randomBytes(4).toString('hex')}`, hardware: 'rpi5', installed: [installedOf(v1)] })
    if (r.status !== 201) throw new Error(`bearer enroll on the previous server: ${r.status} ${r.raw}`)
    const credential = r.json.credential as string
    devices.push({ deviceId: r.json.deviceId, call: (srv, m, path, body) => call(srv, credential, m, path, body) })
  }
  const ro = await call(oldSrv, op, 'POST', '/v1/rollouts', { release: 'rootfs@2.0.0', phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], gate: { minSample: 1000 }, start: true, reason: 'upgrade test' })
  t.equal(ro.status, 201, ro.raw.toString())
  const rolloutId = ro.json.rollout.id as string

  // devices poll the old server alone, then both; the new server migrates underneath
  const statuses = new Map<string, number>()
  const count = (where: string, s: number) => statuses.set(`${where} ${s}`, (statuses.get(`${where} ${s}`) ?? 0) + 1)
  const servers: Array<{ name: string; srv: TestServer }> = [{ name: 'old', srv: oldSrv }]
  let step = 0
  const progress = new Map<string, number>(devices.map((d) => [d.deviceId, 0]))
  const states = ['downloading', 'installing', 'succeeded']
  /** One round: each device polls one server and, once it holds its assignment, reports its next state to the other. */
  async function round(): Promise<void> {
    await Promise.all(
      devices.map(async (d, i) => {
        const a = servers[(step + i) % servers.length]!
        const b = servers[(step + i + 1) % servers.length]!
        const poll = await d.call(a.srv, 'GET', '/v1/device/update')
        count(a.name, poll.status)
        const n = progress.get(d.deviceId)!
        if (poll.status !== 200 || n >= states.length) return
        const sent = await d.call(b.srv, 'POST', '/v1/device/events', { events: [{ id: `ev-${n + 1}`, seq: n + 1, rolloutId, release: { name: 'rootfs', version: '2.0.0' }, state: states[n], mode: 'full' }] })
        count(b.name, sent.status)
        if (sent.status === 200) progress.set(d.deviceId, n + 1)
      }),
    )
    step++
  }
  await round()
  const fresh = await startServer({ ...env, ...(bearer ? { SLIPWAY_DEVICE_BEARER_COMPAT: 'true' } : {}) })
  t.teardown(() => fresh.close())
  servers.push({ name: 'new', srv: fresh })
  for (let i = 0; i < 2; i++) await round()
  // the old server stops (SIGTERM: it drains); devices carry on with the new one
  old.child.kill('SIGTERM')
  t.equal(await exited(old.child), 0, 'the old server stopped cleanly')
  servers.shift()
  for (let i = 0; i < 4 && (i === 0 || [...progress.values()].some((n) => n < states.length)); i++) await round()

  const fives = [...statuses].filter(([k]) => Number(k.split(' ')[1]) >= 500)
  t.same(fives, [], `no 5xx on either server: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok([...statuses.keys()].some((k) => k.startsWith('old 2')) && [...statuses.keys()].some((k) => k.startsWith('new 2')), 'both servers answered devices')
  for (const d of devices) {
    const shown = (await call(fresh, op, 'GET', `/v1/devices/${d.deviceId}`)).json
    t.match(shown.rollouts?.find((m: any) => m.rolloutId === rolloutId), { state: 'succeeded' }, `device ${d.deviceId.slice(0, 8)}: every report kept`)
    t.match(shown.installed, [{ name: 'rootfs', version: '2.0.0' }])
  }

  // the rule: code older than the schema does not start on it (Kysely refuses a database with migrations it does not know)
  old = startOld(wt, oldEnv)
  const code = await exited(old.child)
  t.not(code, 0, `the previous server refuses to start on the migrated database (exit ${code})`)
  t.match(old.output(), new RegExp(newest.replace(/\.sql$/, '')), 'naming the migration it does not know')
})

/**
 * `npm run demo`, headless: the real script in its own process (as `npm run demo`
 * starts it, minus npm), with its own TMPDIR so that "nothing outside its temp folder"
 * can be checked. The story's outcome: the first rollout completed, the broken one
 * rolled back automatically in its canary, every device back on the good version, the
 * server still serving after the story; then SIGINT exits 0 and leaves TMPDIR empty.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

t.test('the demo tells its story, keeps running, and Ctrl-C leaves nothing behind', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'demo-test-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
    cwd: ROOT,
    // tsx's compile cache would be the one file outside the demo's folder: off
    env: { ...process.env, PORT: '0', TMPDIR: tmp, TSX_DISABLE_CACHE: '1', DEMO_SOAK_SECONDS: '4', DEMO_PAUSE_SECONDS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL')
  })

  const deadline = Date.now() + 240_000
  while (!/^DEMO_OUTCOME /m.test(out)) {
    if (child.exitCode !== null) throw new Error(`the demo exited ${child.exitCode} before the end of its story:\n${out}`)
    if (Date.now() > deadline) throw new Error(`no outcome within 240 s:\n${out}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  t.comment(out.split('\n').filter((l) => /^\[/.test(l)).slice(-6).join('\n'))
  const outcome = JSON.parse(/^DEMO_OUTCOME (.*)$/m.exec(out)![1]!)
  t.equal(outcome.good.state, 'completed', 'the good release went through its phases to completion')
  t.equal(outcome.good.failed, 0, 'with no failure')
  t.equal(outcome.bad.state, 'rolled_back', 'the broken release was rolled back')
  t.equal(outcome.bad.phase, 0, 'in its canary phase')
  t.ok(outcome.bad.failed >= 3, `the gate saw the failures (${outcome.bad.failed})`)
  t.match(outcome.bad.reason, /devices failed/)
  t.same(outcome.versions, { 'demo-os@1.1.0': 200 }, 'every device runs the good version again')
  t.same([outcome.agents, outcome.simulated], [20, 180], '20 real agents and 180 simulated devices')

  // still running after the story, as printed
  const dir = /temp folder (\S+)/.exec(out)![1]!
  const url = /console: +(\S+)\/ui\//.exec(out)![1]!
  const operator = /operator token: (\S+)/.exec(out)![1]!
  t.ok(dir.startsWith(tmp), 'the demo folder is under TMPDIR')
  const ui = await fetch(`${url}/ui/`)
  t.equal(ui.status, 200, 'the console is served')
  const r = await fetch(`${url}/v1/rollouts/${outcome.bad.id}`, { headers: { authorization: `Bearer ${operator}` } })
  t.equal(((await r.json()) as any).rollout.state, 'rolled_back', 'the printed operator token reads the rollouts')

  process.kill(child.pid!, 'SIGINT')
  t.equal(await exited, 0, 'Ctrl-C: a clean exit')
  t.notOk(existsSync(dir), 'the demo folder is gone')
  t.same(await readdir(tmp), [], 'and nothing else was left in TMPDIR')
})

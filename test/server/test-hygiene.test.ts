/** A test that fails before its teardown closes its server leaves no slipway-srv-* folder behind. */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

t.test('the data folder of a server that was never closed is removed when the process ends', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-hygiene-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const helper = fileURLToPath(new URL('../helpers/server.ts', import.meta.url))
  const script = join(dir, 'failing.mts')
  await writeFile(script, `import { startServer } from ${JSON.stringify(helper)}\nconst s = await startServer()\nconsole.log(s.config.dataDir)\nthrow new Error('the test failed here')\n`)
  const r = await new Promise<{ code: number; stdout: string }>((done) =>
    execFile(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) }, (err, stdout) => done({ code: (err as { code?: number } | null)?.code ?? 0, stdout })),
  )
  t.not(r.code, 0, 'the script failed')
  const dataDir = r.stdout.trim()
  t.match(dataDir, /slipway-srv-/)
  t.notOk(existsSync(dataDir), `${dataDir} was removed`)
})

t.test('a server that fails to start removes its data folder at once, not only at exit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-hygiene-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const helper = fileURLToPath(new URL('../helpers/server.ts', import.meta.url))
  const script = join(dir, 'bad-config.mts')
  await writeFile(
    script,
    [
      `import { readdirSync } from 'node:fs'`,
      `import { tmpdir } from 'node:os'`,
      `import { startServer } from ${JSON.stringify(helper)}`,
      `const e = await startServer({ PORT: 'not-a-port' }).catch((e) => e)`,
      `console.log(JSON.stringify({ code: e?.code, left: readdirSync(tmpdir()).filter((n) => n.startsWith('slipway-srv-')) }))`,
    ].join('\n'),
  )
  // its own temp folder, so other tests' servers running meanwhile are not counted
  const r = await new Promise<{ stdout: string }>((done) =>
    execFile(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), env: { ...process.env, TMPDIR: dir } }, (_err, stdout) => done({ stdout })),
  )
  t.same(JSON.parse(r.stdout.trim()), { code: 'CONFIG_INVALID', left: [] }, 'the start failed on its config, and no slipway-srv-* folder is left')
})

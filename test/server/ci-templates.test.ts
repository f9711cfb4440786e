/**
 * deploy/ci/: the GitHub composite action and the GitLab job template, run as their CI
 * would run them. The YAML is parsed and its shell steps are executed against a real
 * server, with a file secret key and with a PKCS#11 key in SoftHSM; a refusal must fail
 * the job with the server's error code.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { softhsm, USER_PIN } from '../signing/softhsm.js'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { devReleaseKeyPath } from '../helpers/trust.js'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const hsm = await softhsm(['ci'])
t.teardown(() => hsm.cleanup())
const hsmEnv = { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF as string, PKCS11_MODULE: hsm.modulePath, PKCS11_PIN: USER_PIN }

interface Job {
  code: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
}

const bash = (script: string, env: Record<string, string>, cwd: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile('bash', ['-e', '-o', 'pipefail', '-c', script], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, cwd, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )

/** Runs the composite action's steps in order, the way the runner does: `${{ }}` expressions, GITHUB_ENV, GITHUB_OUTPUT. */
async function runAction(dir: string, inputs: Record<string, string>): Promise<Job> {
  const action = parse(await readFile(join(ROOT, 'deploy/ci/github/action.yml'), 'utf8')) as {
    inputs: Record<string, { required?: boolean; default?: string }>
    runs: { using: string; steps: Array<{ id?: string; shell: string; run: string; env?: Record<string, string> }> }
  }
  t.equal(action.runs.using, 'composite')
  for (const [k, spec] of Object.entries(action.inputs)) if (spec.required && !(k in inputs)) throw new Error(`input ${k} is required`)
  const context: Record<string, string> = {
    'github.action_path': join(ROOT, 'deploy/ci/github'),
    'github.sha': 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    'github.server_url': 'https://github.example',
    'github.repository': 'acme/edge-os',
    'github.run_id': '42',
  }
  for (const [k, spec] of Object.entries(action.inputs)) context[`inputs.${k}`] = inputs[k] ?? spec.default ?? ''
  const expand = (s: string) =>
    s.replace(/\$\{\{\s*([\w.-]+)\s*\}\}/g, (_, name: string) => {
      if (!(name in context)) throw new Error(`unknown expression ${name}`)
      return context[name]!
    })
  const githubEnv = join(dir, 'github-env')
  const githubOutput = join(dir, 'github-output')
  await writeFile(githubEnv, '')
  await writeFile(githubOutput, '')
  let last = { code: 0, stdout: '', stderr: '' }
  for (const step of action.runs.steps) {
    t.equal(step.shell, 'bash')
    const exported = Object.fromEntries((await readFile(githubEnv, 'utf8')).split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    const env = { ...hsmEnv, ...exported, ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v))])), GITHUB_ACTIONS: 'true', GITHUB_ENV: githubEnv, GITHUB_OUTPUT: githubOutput }
    last = await bash(expand(step.run), env, dir)
    if (last.code !== 0) break
  }
  const outputs = Object.fromEntries((await readFile(githubOutput, 'utf8')).split('\n').filter(Boolean).map((l) => l.split('=', 2) as [string, string]))
  return { ...last, outputs }
}

/** Runs the GitLab template's before_script and script lines as one job, with CI/CD variables. */
async function runGitlab(dir: string, variables: Record<string, string>): Promise<Job> {
  const doc = parse(await readFile(join(ROOT, 'deploy/ci/gitlab/slipway-push.yml'), 'utf8')) as Record<string, { variables: Record<string, string>; before_script: string[]; script: string[] }>
  const job = doc['.slipway-push']!
  const env = { ...hsmEnv, ...job.variables, SLIPWAY_HOME: ROOT, CI_COMMIT_SHA: 'feedface', CI_JOB_URL: 'https://gitlab.example/acme/edge-os/-/jobs/7', ...variables }
  const r = await bash([...job.before_script, ...job.script].join('\n'), env, dir)
  return { ...r, outputs: {} }
}

async function server(t: Test): Promise<{ srv: TestServer; dir: string; ci: string; file: string }> {
  const srv = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'slipway-ci-'))
  t.teardown(async () => {
    await srv.close()
    await rm(dir, { recursive: true, force: true })
  })
  const file = join(dir, 'rootfs.ext4')
  await writeFile(file, randomBytes(3 * 2 ** 20))
  return { srv, dir, ci: await srv.token('ci'), file }
}

t.test('GitHub action: push with a file secret, then a refusal fails the step with its code', async (t) => {
  const { srv, dir, ci, file } = await server(t)
  const key = await readFile(devReleaseKeyPath(srv), 'utf8')
  const common = { 'server-url': srv.url, token: ci, file, name: 'rootfs', kind: 'os-image', hardware: 'rpi5', 'signing-key': key }
  const ok = await runAction(dir, { ...common, version: '1.0.0' })
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.outputs['release-id'], /^[0-9a-f-]{36}$/, 'the release id is a step output')
  t.equal(ok.outputs['metadata-file'], `${file}.release.json`)
  const rel = await call(srv, ci, 'GET', `/v1/releases/${ok.outputs['release-id']}`)
  t.equal(rel.json.provenance.sourceRevision, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', 'provenance comes from the workflow run')
  t.equal(rel.json.provenance.builder, 'https://github.example/acme/edge-os/actions/runs/42')

  const refused = await runAction(dir, { ...common, version: '1.1' })
  t.equal(refused.code, 1, 'the step fails')
  t.match(refused.stdout, /::error title=slipway push refused \(RELEASE_VERSION_INVALID\)::RELEASE_VERSION_INVALID \(400\)/, 'with an annotation naming the code')
  t.notMatch(refused.stdout + refused.stderr, /BEGIN PRIVATE KEY/, 'the key never reaches the log')
})

t.test('GitLab template: push with a PKCS#11 key that the root trusts; an unknown key fails the job', async (t) => {
  const { srv, dir, ci, file } = await server(t)
  const spec = 'pkcs11:token=ci;object=release-hsm'
  const gen = await slipway(['keys', 'generate', spec, '--type', 'ecdsa'], hsmEnv).done
  t.equal(gen.code, 0, gen.stderr)
  const vars = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: ci, PUSH_FILE: file, RELEASE_NAME: 'model-q4', RELEASE_VERSION: '2.0.0', RELEASE_KIND: 'model', RELEASE_HARDWARE: 'rpi5', PKCS11_TOKEN_LABEL: 'ci', PKCS11_KEY_LABEL: 'release-hsm' }
  const before = await runGitlab(dir, vars)
  t.equal(before.code, 1, 'a key the root does not list fails the job')
  t.match(before.stderr, /slipway push failed: SIGNATURE_UNKNOWN_KEY/)

  const keys = srv.config.keys.dir
  const added = await slipway(['keys', 'add-release-key', '--chain', keys, '--key', spec, '--sign', join(keys, 'root.pem')], hsmEnv).done
  t.equal(added.code, 0, added.stderr)
  const installed = await slipway(['keys', 'install-root', join(keys, '2.root.json')], { SLIPWAY_DATA_DIR: srv.config.dataDir }).done
  t.equal(installed.code, 0, installed.stderr)
  const ok = await runGitlab(dir, vars)
  t.equal(ok.code, 0, ok.stderr)
  const out = JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as { id: string }
  const rel = await call(srv, ci, 'GET', `/v1/releases/${out.id}`)
  t.equal(rel.json.provenance.sourceRevision, 'feedface', 'provenance from the pipeline')
  t.equal(rel.json.kind, 'model')

  const missing = await runGitlab(dir, { ...vars, PKCS11_MODULE: '', PKCS11_TOKEN_LABEL: '' })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /error: CI_CONFIG_MISSING: set SIGNING_KEY_PEM, SIGNING_KEY_FILE or PKCS11_MODULE/)
})

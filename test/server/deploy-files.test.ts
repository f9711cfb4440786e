/**
 * The deploy files can't be run here (no Docker engine, no systemd as PID 1), so
 * they are checked without an engine: the compose topology, that the environment it
 * gives the server is a configuration the server accepts, that the image owns every
 * folder the server writes, and that nginx (Debian's) accepts deploy/nginx.conf.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../server/config.js'
import { nginxTest, writeNginxConf } from '../helpers/nginx.js'
import { makeTls } from '../helpers/tls.js'

const deploy = (f: string) => fileURLToPath(new URL(`../../deploy/${f}`, import.meta.url))

type Service = { command?: string[]; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; healthcheck?: { test: string[] } }

function compose(): Record<string, Service> {
  return (parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service> }).services
}

/** A slipway service's environment with ${VAR:?msg} filled in with sample values. */
function sampleEnv(s: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([k, v]) => [
      k,
      String(v).replace(/\$\{(\w+)(:\?[^}]*)?\}/g, (_m, n: string) =>
        n === 'SLIPWAY_ADMIN_TOKEN' ? 'x'.repeat(40) : n === 'S3_PUBLIC_ENDPOINT' ? 'https://s3.example.com' : `sample-${n.toLowerCase()}`,
      ),
    ]),
  )
}

/** The Dockerfile's ENV lines, and the folders it creates with `install -d -o USER` before `USER`. */
function image(): { env: Record<string, string>; user: string; owned: Map<string, string> } {
  const text = readFileSync(deploy('Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ')
  const env: Record<string, string> = {}
  const owned = new Map<string, string>()
  let user = 'root'
  for (const line of text.split('\n')) {
    const [instr, ...rest] = line.trim().split(/\s+/)
    if (instr === 'ENV') for (const kv of rest) env[kv.split('=')[0]!] = kv.split('=').slice(1).join('=')
    if (instr === 'USER') user = rest[0]!
    if (instr === 'RUN') {
      for (const m of line.matchAll(/install -d -o (\w+) -g \w+(?: -m \d+)? ((?:\/[\w./-]+\s*)+)/g))
        for (const path of m[2]!.trim().split(/\s+/)) owned.set(path, m[1]!)
    }
  }
  return { env, user, owned }
}

t.test('compose: postgres, redis, minio, two replicas, one worker, TLS proxy, public S3 endpoint', async (t) => {
  const s = compose()
  for (const name of ['postgres', 'redis', 'minio', 'server-1', 'server-2', 'worker', 'proxy']) t.ok(s[name], `service ${name}`)
  t.same(s.worker!.command, ['worker'])
  t.match(JSON.stringify(s.worker!.healthcheck), /9090\/healthz/, 'the worker is probed on WORKER_PORT')
  t.ok(s.proxy!.volumes?.includes('./tls:/etc/nginx/tls:ro'), 'certificates mounted where nginx.conf reads them')
  t.same(s.proxy!.ports, ['443:443'])
  for (const name of ['server-1', 'server-2', 'worker']) {
    const c = loadConfig(sampleEnv(s[name]!))
    t.ok(c.databaseUrl && c.redisUrl && c.s3, `${name}: database, redis and S3 configured`)
    t.equal(new URL(c.s3!.endPoint).hostname, 'minio')
    t.not(new URL(c.s3!.publicEndPoint!).hostname, 'minio', `${name}: presigned URLs name a host devices can reach`)
    t.equal(c.workerPort, 9090)
  }
})

t.test('image: every folder the server writes exists and belongs to the image user', async (t) => {
  const img = image()
  t.equal(img.user, 'node', 'the image runs as node, not root')
  const s = compose()
  for (const name of ['server-1', 'server-2', 'worker']) {
    const c = loadConfig({ ...img.env, ...sampleEnv(s[name]!) })
    const mounts = (s[name]!.volumes ?? []).map((v) => v.split(':')[1]!)
    // a named volume starts as a copy of the image folder under it, owner included
    for (const m of mounts) t.equal(img.owned.get(m), 'node', `${name}: volume mount ${m} is created and owned by node in the image`)
    const written = [c.dataDir, c.keys.dir, c.delta.workDir, ...(c.s3 ? [] : [c.uploadDir])]
    for (const p of written) t.equal(img.owned.get(p) ?? img.owned.get(dirname(p)), 'node', `${name}: ${p} (or its parent) is owned by node`)
  }
  t.notMatch(readFileSync(deploy('Dockerfile'), 'utf8'), /apt-get install[^\n]*\bbzip2\b/, 'no bzip2 in the image: the delta builder runs its own TypeScript bsdiff')
})

t.test('every environment variable the server reads is set in compose or has a documented default', async (t) => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const read = new Set<string>()
  const files = execFileSync('git', ['ls-files', 'server', 'signing'], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'))
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8')
    for (const re of [/\bsrc\.([A-Z][A-Z0-9_]+)/g, /\(src, '([A-Z][A-Z0-9_]+)'/g, /need\('([A-Z][A-Z0-9_]+)'\)/g, /process\.env\.([A-Z][A-Z0-9_]+)/g])
      for (const m of text.matchAll(re)) read.add(m[1]!)
  }
  t.ok(read.has('DATABASE_URL') && read.has('WORKER_PORT') && read.has('S3_PUBLIC_ENDPOINT'), 'the scan finds the variables config.ts reads')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const s = compose()
  const env = { ...image().env, ...sampleEnv(s['server-1']!) }
  // the deployed environment is one the server accepts: nothing required is missing
  t.doesNotThrow(() => loadConfig(env))
  for (const name of [...read].sort()) {
    if (name in env) continue
    // not set: then the README must say what it defaults to (a row or a mention in its tables)
    t.match(readme, new RegExp(`\`${name}\``), `${name} is set in compose or documented with its default in the README`)
  }
})

t.test('deploy/nginx.conf passes nginx -t (TLS, client certificates forwarded, no buffering)', async (t) => {
  const text = readFileSync(deploy('nginx.conf'), 'utf8')
  for (const d of ['listen 443 ssl;', 'ssl_verify_client optional;', 'proxy_set_header X-Client-Cert $ssl_client_escaped_cert;', 'proxy_request_buffering off;', 'proxy_buffering off;', 'client_max_body_size 0;'])
    t.ok(text.includes(d), d)
  const dir = await mkdtemp(join(tmpdir(), 'slipway-nginx-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const tls = await makeTls(join(dir, 'tls'))
  const { conf } = await writeNginxConf({ upstreams: ['127.0.0.1:1', '127.0.0.1:2'], tlsDir: tls.dir, prefix: join(dir, 'nginx') })
  // throws, failing the test, with nginx's own message when it refuses the file
  nginxTest(conf, join(dir, 'nginx'))
  t.pass('nginx -t accepts the shipped config')
})

t.test('systemd units pass systemd-analyze verify', async (t) => {
  for (const unit of ['slipway.service', 'slipway-worker.service']) {
    const text = readFileSync(deploy(`systemd/${unit}`), 'utf8')
    t.match(text, /NoNewPrivileges=yes/)
    t.match(text, /ProtectSystem=strict/)
    t.match(text, /ReadWritePaths=\/var\/lib\/slipway/)
    // throws (failing the test) on a unit systemd would refuse
    execFileSync('systemd-analyze', ['verify', deploy(`systemd/${unit}`)], { stdio: 'pipe' })
    t.pass(`${unit} verified`)
  }
})

t.test('agent unit: hardened, dedicated user, writable state only, root needs documented', async (t) => {
  const text = readFileSync(deploy('systemd/slipway-agent.service'), 'utf8')
  const directives = text.split('\n').filter((l) => !l.startsWith('#'))
  const has = (d: string) => t.ok(directives.includes(d), d)
  has('NoNewPrivileges=yes')
  has('ProtectSystem=strict')
  has('PrivateTmp=yes')
  has('User=slipway-agent')
  has('StateDirectory=slipway-agent')
  has('ReadWritePaths=/var/lib/slipway-agent -/var/lib/slipway-models')
  has('Restart=always')
  // the comments tell an operator how to run the root-only OS-image adapters
  for (const need of ['User=root', 'DeviceAllow=', '/run/lock', 'tryboot', 'grubenv', 'fw_setenv']) t.match(text, need)
  // verify exits 0 on a directive it ignores (bad value, unknown key) but says so on stderr
  const r = spawnSync('systemd-analyze', ['verify', deploy('systemd/slipway-agent.service')], { encoding: 'utf8' })
  t.equal(r.status, 0, 'systemd-analyze verify')
  t.equal(r.stderr.trim(), '', 'no ignored or unknown directives')
})

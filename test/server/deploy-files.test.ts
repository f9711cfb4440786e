/**
 * The deploy files can't be run here (no Docker engine, no systemd as PID 1), so
 * they are checked statically: the compose topology, and that the environment it
 * gives the server is a configuration the server accepts.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../server/config.js'

const deploy = (f: string) => fileURLToPath(new URL(`../../deploy/${f}`, import.meta.url))

t.test('compose: postgres, redis, minio, two replicas, one worker, sharing uploads', async (t) => {
  const doc = parse(readFileSync(deploy('compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string>; volumes?: string[] }>
  }
  const s = doc.services
  for (const name of ['postgres', 'redis', 'minio', 'server-1', 'server-2', 'worker', 'proxy']) t.ok(s[name], `service ${name}`)
  t.same(s.worker!.command, ['worker'])
  for (const name of ['server-1', 'server-2', 'worker']) {
    t.ok(s[name]!.volumes?.some((v) => v.startsWith('uploads:')), `${name} mounts the shared upload volume`)
    // substitute ${VAR:?msg} with sample values and check the server would start with it
    const env = Object.fromEntries(
      Object.entries(s[name]!.environment ?? {}).map(([k, v]) => [
        k,
        String(v).replace(/\$\{(\w+)(:\?[^}]*)?\}/g, (_m, n: string) => (n === 'SLIPWAY_ADMIN_TOKEN' ? 'x'.repeat(40) : `sample-${n.toLowerCase()}`)),
      ]),
    )
    const c = loadConfig(env)
    t.ok(c.databaseUrl && c.redisUrl && c.s3, `${name}: database, redis and S3 configured`)
    t.equal(c.uploadDir, '/var/lib/slipway/uploads')
  }
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

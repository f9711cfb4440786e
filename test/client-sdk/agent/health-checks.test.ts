import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runHealthChecks } from '../../../client-sdk/src/index.js'
import { serve } from './http-fixtures.js'

t.test('units (systemctl is-active), HTTP probes and commands; failures carry the output tail', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-health-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // this machine runs no systemd: a stand-in with systemctl's contract (exit 0 + "active", else 3 + state)
  const systemctl = join(dir, 'systemctl')
  await writeFile(systemctl, '#!/bin/sh\n[ "$1" = is-active ] || exit 64\ncase "$2" in llm-app.service) echo active;; *) echo failed; exit 3;; esac\n')
  await chmod(systemctl, 0o755)
  const srv = await serve((req, res) => void res.writeHead(req.url === '/ok' ? 200 : 503).end(req.url === '/ok' ? 'fine' : 'model not loaded'))
  t.teardown(srv.close)
  const ok = await runHealthChecks({ systemctl, units: ['llm-app.service'], http: [{ url: `${srv.url}/ok` }], commands: [{ name: 'true', argv: ['true'] }], attempts: 1 })
  t.same(ok, { ok: true, checks: [{ name: 'unit:llm-app.service', ok: true }, { name: `http:${srv.url}/ok`, ok: true }, { name: 'command:true', ok: true }], metrics: {} })
  const bad = await runHealthChecks({
    systemctl,
    units: ['llm-app.service', 'broken.service'],
    http: [{ url: `${srv.url}/bad`, name: 'api' }],
    commands: [{ name: 'slow', argv: ['sleep', '5'], timeoutSeconds: 0.2 }],
    attempts: 2,
    retryDelaySeconds: 0.05,
  })
  t.equal(bad.ok, false)
  t.same(bad.checks.map((c) => [c.name, c.ok]), [['unit:llm-app.service', true], ['unit:broken.service', false], ['api', false], ['command:slow', false]])
  t.equal(bad.checks[1]!.output, 'failed')
  t.match(bad.checks[2]!.output, /status 503: model not loaded/)
  t.match(bad.checks[3]!.output, /timed out after 200 ms/)
})

t.test('a check that passes on a later attempt counts as passed (a unit still starting)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-health-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const flag = join(dir, 'n')
  const r = await runHealthChecks({ commands: [{ name: 'second-time', argv: ['sh', '-c', `[ -e ${flag} ] || { touch ${flag}; exit 1; }`] }], attempts: 2, retryDelaySeconds: 0.01 })
  t.equal(r.ok, true)
})

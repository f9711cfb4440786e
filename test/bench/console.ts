/**
 * Console page-load benchmark (issue 13): every API request a console page makes on
 * load (fired together, as the page fires them), with 10,000 devices, 100 rollouts,
 * one rollout with 2,000 members and 8,000 reports, and 1,000 audit entries, on
 * embedded SQLite. Each page is loaded ROUNDS times; prints the median and p95 in ms,
 * the ratio to GET /healthz measured in the same run, and the 300 ms goal.
 *
 *   npm run bench:console [-- --devices 10000 --rollouts 100 --rounds 20]
 *
 * Rows are written through the repositories (not with 10,000 HTTP enrollments).
 */
import { randomUUID } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Rollout } from '../../server/domain/fleet-model.js'
import { installedOf, publish } from '../helpers/fleet.js'
import { startServer, type TestServer } from '../helpers/server.js'

const { values: opt } = parseArgs({
  options: { devices: { type: 'string', default: '10000' }, rollouts: { type: 'string', default: '100' }, rounds: { type: 'string', default: '20' } },
})
const DEVICES = Number(opt.devices)
const ROLLOUTS = Number(opt.rollouts)
const ROUNDS = Number(opt.rounds)
const GOAL_MS = 300

async function seed(srv: TestServer): Promise<{ rolloutId: string; deviceId: string }> {
  const fleet = srv.container.repos.fleet
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '1.1.0' })
  const now = new Date().toISOString()
  const ids: string[] = []
  for (let from = 0; from < DEVICES; from += 2000)
    await fleet.transaction(async (tx) => {
      for (let i = from; i < Math.min(DEVICES, from + 2000); i++) {
        const id = randomUUID()
        ids.push(id)
        await tx.devices.insert({
          id, hardwareId: `bench-${i}`, hardware: i % 3 ? 'rpi5' : 'rpi4', group: `site-${i % 20}`, tags: i % 2 ? ['lab'] : [], credentialHash: randomUUID(),
          lastSeq: 0, lastState: i % 7 ? 'succeeded' : 'downloading', lastReportAt: now, lastSeenAt: i % 11 ? now : null, createdAt: now, updatedAt: now,
        })
        await tx.devices.replaceInstalled(id, [installedOf(i % 4 ? v1 : v2)], now)
      }
    })
  const states: Rollout['state'][] = ['completed', 'aborted', 'rolled_back', 'paused', 'running']
  let last: Rollout | undefined
  for (let k = 0; k < ROLLOUTS; k++) {
    const at = new Date(Date.now() - (ROLLOUTS - k) * 60_000).toISOString()
    const r: Rollout = {
      id: randomUUID(), releaseId: v2.id, selector: { group: `site-${k % 20}` }, phases: [{ percent: 10, minDevices: 5, soakSeconds: 600 }, { percent: 100, minDevices: 50, soakSeconds: 0 }],
      gate: { maxFailureRate: 0.05, minSample: 5, confidence: 0.95, silentAfterSeconds: 3600 }, breachAction: 'pause', state: states[k % states.length]!, phase: 0,
      phaseStartedAt: at, stateReason: null, version: 1, createdBy: 'bench', createdAt: at, updatedAt: at,
    }
    await fleet.transaction(async (tx) => {
      await tx.rollouts.insert(r)
      for (let j = 0; j < 10; j++) await tx.audit.append({ actor: 'bench', action: 'rollout.create', subject: `rollout:${r.id}`, reason: 'bench', before: null, after: { j } }, at)
    })
    last = r
  }
  // the rollout the detail page shows: 2,000 members, four reports each
  const r = last!
  await fleet.transaction(async (tx) => {
    for (const [n, deviceId] of ids.slice(0, 2000).entries()) {
      await tx.members.insert({ rolloutId: r.id, deviceId, phase: 0, previous: null, state: 'assigned', stateSeq: 0, reason: null, healthOk: null, metrics: null, reverted: false, assignedAt: now, reportedAt: null })
      for (const [s, state] of ['downloading', 'installing', 'rebooting', n % 25 ? 'succeeded' : 'failed'].entries()) {
        const body = { id: randomUUID(), seq: s + 1, rolloutId: r.id, release: { name: 'rootfs', version: '1.1.0' }, state }
        await tx.reports.insert({ deviceId, id: body.id, seq: s + 1, kind: 'event', rolloutId: r.id, body: JSON.stringify(body), at: new Date(Date.now() - (2000 - n) * 1000).toISOString() })
        await tx.members.report(r.id, deviceId, { seq: s + 1, state: state as 'succeeded', reason: null, at: now })
      }
    }
  })
  return { rolloutId: r.id, deviceId: ids[0]! }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

async function main(): Promise<void> {
  const srv = await startServer()
  try {
    const t0 = performance.now()
    const { rolloutId, deviceId } = await seed(srv)
    console.log(`seeded ${DEVICES} devices, ${ROLLOUTS} rollouts, 2000 members and 8000 reports in ${((performance.now() - t0) / 1000).toFixed(1)} s (embedded SQLite)`)
    const token = await srv.token('viewer')
    const get = async (path: string) => {
      const res = await fetch(`${srv.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      const body = await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${Buffer.from(body).toString()}`)
      return body.byteLength
    }
    const assets = (await readdir(fileURLToPath(new URL('../../server/console/public/', import.meta.url)))).map((f) => `/ui/${f}`)
    const pages: Array<[string, string[]]> = [
      ['shell (html, js, css, vendor)', ['/ui/', ...assets, '/ui/vendor/standalone.module.js', '/v1/whoami']],
      ['fleet overview', ['/v1/fleet/overview?notSeenFactor=3']],
      ['rollouts list', ['/v1/rollouts?limit=50', '/v1/releases?limit=500']],
      ['rollout detail (2,000 members)', [`/v1/rollouts/${rolloutId}`, `/v1/rollouts/${rolloutId}/series`, `/v1/audit?subject=rollout:${rolloutId}&limit=500`]],
      ['devices list', ['/v1/devices?limit=50']],
      ['devices list, filtered', ['/v1/devices?limit=50&tag=lab&hardware=rpi5&notSeenFactor=3']],
      ['device detail', [`/v1/devices/${deviceId}`, `/v1/devices/${deviceId}/reports?limit=30`, `/v1/devices/${deviceId}/explain`, `/v1/audit?subject=device:${deviceId}&limit=200`]],
      ['releases and deltas', ['/v1/releases?limit=200', '/v1/deltas?limit=200']],
      ['audit log (1,000 entries, all pages)', ['/v1/audit?after=0&limit=5000']],
    ]
    const time = async (paths: string[]) => {
      const s = performance.now()
      await Promise.all(paths.map(get))
      return performance.now() - s
    }
    for (const [, paths] of pages) await time(paths) // warm caches and prepared statements
    const baseline: number[] = []
    const rows: Array<[string, number, number]> = []
    for (const [name, paths] of pages) {
      const ms: number[] = []
      for (let i = 0; i < ROUNDS; i++) {
        baseline.push(await time(['/healthz']))
        ms.push(await time(paths))
      }
      rows.push([name, quantile(ms, 0.5), quantile(ms, 0.95)])
    }
    const base = quantile(baseline, 0.5)
    console.log(`\nbaseline GET /healthz: median ${base.toFixed(2)} ms\n`)
    console.log(`${'page'.padEnd(40)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)} ${'× healthz'.padStart(10)}  goal < ${GOAL_MS} ms`)
    for (const [name, med, p95] of rows)
      console.log(`${name.padEnd(40)} ${med.toFixed(1).padStart(10)} ${p95.toFixed(1).padStart(8)} ${(med / base).toFixed(1).padStart(10)}  ${p95 < GOAL_MS ? 'ok' : 'OVER'}`)
  } finally {
    await srv.close()
  }
}

await main()

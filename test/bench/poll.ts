/**
 * Poll benchmark (issue 5): autocannon against GET /v1/device/update with 100,000
 * enrolled devices and a running rollout at its 10% phase (so most polls are 204, the
 * cohort gets its assignment once and 304 after), on embedded SQLite and on
 * PostgreSQL + Redis, next to a bare Fastify route returning a constant, same machine,
 * same run. Prints polls/s, p50/p99 latency and the ratio to bare Fastify.
 * Goal: ≥ 0.35 of bare Fastify's throughput with p99 under 20 ms on embedded mode.
 *
 *   npm run bench:poll [-- --devices 100000 --pool 5000 --seconds 10 --connections 32 --no-pg]
 *
 * Devices are written through the repositories (as enrollment writes them: a random
 * `sld_` credential stored as its sha256), not with 100,000 HTTP calls; the load
 * generator runs in a child process and spreads requests over a pool of credentials.
 */
import { fork } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { DEVICE_CREDENTIAL_PREFIX, hashToken } from '../../server/domain/auth-service.js'
import type { InstalledRelease } from '../../server/domain/fleet/model.js'
import { call } from '../helpers/api.js'
import { installedOf, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'
import type { LoadJob, LoadResult } from './poll-load.js'

const { values: opt } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000' },
    pool: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'no-pg': { type: 'boolean', default: false },
  },
})
const DEVICES = Number(opt.devices)
const POOL = Math.min(Number(opt.pool), DEVICES)
const SECONDS = Number(opt.seconds)
const CONNECTIONS = Number(opt.connections)
const PATH = '/v1/device/update'
const LOADER = fileURLToPath(new URL('./poll-load.ts', import.meta.url))

function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(LOADER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.once('message', (r) => resolve(r as LoadResult))
    child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)))
    child.send(job)
  })
}

/** 100k devices through the repositories, in transactions of 2,000; returns a spread-out pool of their credentials. */
async function seed(srv: TestServer, installed: InstalledRelease): Promise<string[]> {
  const fleet = srv.container.repos.fleet
  const pool: string[] = []
  const every = Math.floor(DEVICES / POOL)
  const now = new Date().toISOString()
  const batch = async (from: number, to: number) =>
    fleet.transaction(async (tx) => {
      for (let i = from; i < to; i++) {
        // the credential as enrollment makes it, stored as enrollment stores it
        const credential = DEVICE_CREDENTIAL_PREFIX + randomBytes(32).toString('base64url')
        if (i % every === 0 && pool.length < POOL) pool.push(credential)
        const id = randomUUID()
        await tx.devices.insert({ id, hardwareId: `bench-${i}`, hardware: 'rpi5', group: 'field', tags: [], credentialHash: hashToken(credential), lastSeq: -1, lastState: null, lastReportAt: null, createdAt: now, updatedAt: now })
        await tx.devices.replaceInstalled(id, [installed], now)
      }
    })
  const SIZE = 2000
  const starts = Array.from({ length: Math.ceil(DEVICES / SIZE) }, (_, k) => k * SIZE)
  // four transactions at a time: PostgreSQL overlaps them, SQLite runs them one after another
  for (let k = 0; k < starts.length; k += 4) await Promise.all(starts.slice(k, k + 4).map((s) => batch(s, Math.min(DEVICES, s + SIZE))))
  return pool
}

interface Row {
  mode: string
  r: LoadResult
  setup?: string
}

async function fleetMode(mode: string, env: Record<string, string>): Promise<Row> {
  const t0 = performance.now()
  const srv = await startServer(env)
  try {
    const v1 = await publish(srv, { version: '1.0.0' })
    await publish(srv, { version: '1.1.0' })
    const pool = await seed(srv, installedOf(v1))
    const op = await srv.token('operator')
    const ro = await call(srv, op, 'POST', '/v1/rollouts', {
      release: 'rootfs@1.1.0',
      phases: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
      // the bench must not promote or pause underneath itself
      gate: { minSample: 1_000_000, silentAfterSeconds: 86400 },
      start: true,
      reason: 'bench:poll',
    })
    if (ro.status !== 201) throw new Error(`rollout: ${ro.status} ${ro.raw}`)
    const setup = `${((performance.now() - t0) / 1000).toFixed(0)} s setup`
    // warm-up: the cohort's first polls sign and store their assignments; then caches are hot
    await runLoad({ url: srv.url, path: PATH, credentials: pool, seconds: 3, connections: CONNECTIONS })
    const r = await runLoad({ url: srv.url, path: PATH, credentials: pool, seconds: SECONDS, connections: CONNECTIONS })
    return { mode, r, setup }
  } finally {
    await srv.close()
  }
}

async function bare(): Promise<Row> {
  const app = Fastify({ logger: false })
  app.get(PATH, (_req, reply) => reply.header('slipway-poll-interval', '300').code(204).send())
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  try {
    await runLoad({ url, path: PATH, credentials: [], seconds: 2, connections: CONNECTIONS })
    return { mode: 'bare Fastify (constant 204)', r: await runLoad({ url, path: PATH, credentials: [], seconds: SECONDS, connections: CONNECTIONS }) }
  } finally {
    await app.close()
  }
}

function print(rows: Row[], baseline: number): void {
  const mix = (s: Record<string, number>) =>
    Object.entries(s)
      .sort()
      .map(([k, v]) => `${k}:${v}`)
      .join(' ')
  process.stdout.write(`\nbench:poll — ${DEVICES.toLocaleString('en-US')} devices, ${POOL.toLocaleString('en-US')} polling credentials, rollout at 10%, ${CONNECTIONS} connections, ${SECONDS} s each\n\n`)
  process.stdout.write(`${'mode'.padEnd(30)} ${'polls/s'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'ratio'.padStart(6)}  statuses\n`)
  for (const { mode, r, setup } of rows)
    process.stdout.write(
      `${mode.padEnd(30)} ${Math.round(r.rps).toLocaleString('en-US').padStart(9)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${(r.rps / baseline).toFixed(2).padStart(6)}  ${mix(r.statuses)}${r.errors ? ` errors:${r.errors}` : ''}${setup ? `  (${setup})` : ''}\n`,
    )
}

const rows: Row[] = []
rows.push(await bare())
rows.push(await fleetMode('embedded (SQLite)', {}))
if (!opt['no-pg']) {
  const pg = await freshPostgres()
  try {
    rows.push(await fleetMode('PostgreSQL + Redis', { DATABASE_URL: pg.url, REDIS_URL: 'redis://127.0.0.1:6379', SLIPWAY_QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}` }))
  } finally {
    await pg.drop()
  }
}
const again = await bare()
rows.push({ ...again, mode: 'bare Fastify (again)' })
const baseline = (rows[0]!.r.rps + again.r.rps) / 2
print(rows, baseline)
const embedded = rows[1]!.r
const met = embedded.rps / baseline >= 0.35 && embedded.p99 < 20
process.stdout.write(`\nratio = polls/s ÷ mean bare Fastify. goal on embedded (≥ 0.35 and p99 < 20 ms): ${met ? 'met' : 'MISSED'}\n`)

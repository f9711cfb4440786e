/**
 * Poll benchmark (issue 5): autocannon against GET /v1/device/update with 100,000
 * enrolled devices and a running rollout at its 10% phase (so most polls are 204, the
 * cohort gets its assignment once and 304 after), on embedded SQLite and on
 * PostgreSQL + Redis, next to a bare Fastify route returning a constant, same machine,
 * same run. Prints polls/s, p50/p99 latency and the ratio to bare Fastify.
 * Goal: ≥ 0.35 of bare Fastify's throughput with p99 under 20 ms, in both modes.
 *
 *   npm run bench:poll [-- --devices 100000 --pool 5000 --seconds 5 --rounds 3 --connections 32 --no-pg | --no-embedded]
 *   npm run bench:poll -- --limiter [--devices 20000 …]
 *   npm run bench:poll -- --cpu-profile DIR   (the server's CPU profile during the first poll round of each mode)
 *
 * `--limiter` (issue 10 §5) measures instead what the rate limiter costs a valid poll:
 * two embedded servers with the same fleet, one with the limits off
 * (SLIPWAY_AUTH_FAILURES_PER_MINUTE=0), one with the defaults, polled in alternating
 * rounds; then both again while a second load generator floods them with wrong
 * credentials (401s on the one, 429s on the other). Goal: limits on ≥ 0.90 of off.
 *
 * Devices are seeded in bulk (poll-seed.ts: one written through the repositories, the
 * rest copied from it by INSERT … SELECT, each with its own credential hash), not with
 * 100,000 HTTP calls; `--devices 1000000` takes well under a minute on PostgreSQL; the load
 * generator runs in a child process and spreads requests over a pool of credentials.
 */
import { fork } from 'node:child_process'
import os from 'node:os'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import pg from 'pg'
import { DEVICE_CREDENTIAL_PREFIX } from '../../server/domain/auth/auth-service.js'
import { call } from '../helpers/api.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { FileDeviceKey } from '../../client-sdk/src/identity/device-key.js'
import type { LoadJob, LoadResult, PollDevices } from './poll-load.js'
import { certifyPool, seedFleet } from './poll-seed.js'

const { values: opt } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000' },
    pool: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    'no-pg': { type: 'boolean', default: false },
    'no-embedded': { type: 'boolean', default: false },
    limiter: { type: 'boolean', default: false },
    bearer: { type: 'boolean', default: false },
    'presign-rate': { type: 'string', default: '25000' },
    'cpu-profile': { type: 'string' },
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

interface Row {
  mode: string
  r: LoadResult
  /** the bare Fastify rounds interleaved with this mode's rounds */
  bare: LoadResult
  setup: string
}

/**
 * The machine is shared, so its load drifts during a run: each mode is measured in
 * ROUNDS rounds alternating with bare Fastify, and compared with those paired rounds.
 */
async function paired(url: string, pool: PollDevices, bareUrl: string, etags: Array<[string, string]>): Promise<{ r: LoadResult; bare: LoadResult }> {
  const polls: LoadResult[] = []
  const bares: LoadResult[] = []
  for (let i = 0; i < ROUNDS; i++) {
    bares.push(await runLoad({ url: bareUrl, path: PATH, seconds: SECONDS, connections: CONNECTIONS }))
    const r = await profiled(i === 0, () => runLoad({ url, path: PATH, devices: pool, seconds: SECONDS, connections: CONNECTIONS, etags }))
    etags = r.etags
    polls.push(r)
  }
  return { r: combine(polls), bare: combine(bares) }
}

let profiles = 0
/** --cpu-profile DIR: the server's CPU profile (this process) during the first poll round of each mode, nothing else. */
async function profiled<T>(first: boolean, run: () => Promise<T>): Promise<T> {
  if (!first || !opt['cpu-profile']) return run()
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  try {
    return await run()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    const { mkdir, writeFile } = await import('node:fs/promises')
    await mkdir(opt['cpu-profile'], { recursive: true })
    const file = `${opt['cpu-profile']}/poll-round-${++profiles}.cpuprofile`
    await writeFile(file, JSON.stringify(profile))
    process.stderr.write(`CPU profile of the first poll round: ${file}\n`)
    session.disconnect()
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

/** Mean throughput, median p50 and p99 of the rounds, summed statuses. */
function combine(rs: LoadResult[]): LoadResult {
  const statuses: Record<string, number> = {}
  for (const r of rs) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v
  return {
    rps: rs.reduce((a, r) => a + r.rps, 0) / rs.length,
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    total: rs.reduce((a, r) => a + r.total, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    statuses,
    etags: [],
  }
}

/** A server with the seeded fleet and a running rollout, warmed up; `etags` the devices hold. */
async function fleetServer(env: Record<string, string>): Promise<{ srv: TestServer; pool: PollDevices; etags: Array<[string, string]>; setup: string }> {
  const t0 = performance.now()
  // --bearer: the old bearer credentials (SLIPWAY_DEVICE_BEARER_COMPAT); by default devices sign every poll, as agents do
  const srv = await startServer({ ...env, ...(opt.bearer ? { SLIPWAY_DEVICE_BEARER_COMPAT: 'true' } : {}) })
  try {
    const v1 = await publish(srv, { version: '1.0.0' })
    await publish(srv, { version: '1.1.0' })
    const seeding = performance.now()
    const seeded0 = await seedFleet(srv, installedOf(v1), DEVICES, POOL)
    let pool: PollDevices = { bearer: seeded0.credentials }
    if (!opt.bearer) {
      // one device enrolls for real (CSR, certificate from the device CA); its certificate row is copied to each pool device
      const keyPem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
      const template = await enroll(srv, await enrollmentToken(srv), { key: FileDeviceKey.fromPem(keyPem), installed: [installedOf(v1)] })
      pool = { keyPem, serials: await certifyPool(srv, template.serial, seeded0.hardwareIds), presignPerSecond: Number(opt['presign-rate']) }
    }
    const seeded = `${DEVICES.toLocaleString('en-US')} devices seeded in ${((performance.now() - seeding) / 1000).toFixed(0)} s`
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
    const setup = `${((performance.now() - t0) / 1000).toFixed(0)} s setup, ${seeded}`
    // warm-up: every credential polls once, so the cohort's assignments are signed and stored
    const before = await footprint(env)
    const warm = await runLoad({ url: srv.url, path: PATH, devices: pool, seconds: 60, amount: POOL, connections: CONNECTIONS })
    const after = await footprint(env)
    const cached = srv.container.deviceCache.size
    const perDevice = (x: number) => (cached ? Math.round(x / cached) : 0)
    process.stderr.write(`warm-up cached ${cached} devices: heap +${((after.heap - before.heap) / 2 ** 20).toFixed(1)} MiB (~${perDevice(after.heap - before.heap)} B/device)${env.REDIS_URL ? `, Redis used_memory +${((after.redis - before.redis) / 1024).toFixed(0)} KiB (${perDevice(after.redis - before.redis)} B/device)` : ''}\n`)
    return { srv, pool, etags: warm.etags, setup }
  } catch (e) {
    await srv.close()
    throw e
  }
}

/** Heap of this process (the server runs in it) and Redis's used_memory, for the sizing table. */
async function footprint(env: Record<string, string>): Promise<{ heap: number; redis: number }> {
  ;(globalThis as { gc?: () => void }).gc?.()
  let redis = 0
  if (env.REDIS_URL) {
    const r = new Redis(env.REDIS_URL)
    redis = Number(/used_memory:(\d+)/.exec(await r.info('memory'))?.[1] ?? 0)
    await r.quit()
  }
  return { heap: process.memoryUsage().heapUsed, redis }
}

/** Rows PostgreSQL inserted, updated or deleted so far in this database (pg_stat_database). */
async function pgWrites(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query('SELECT pg_stat_force_next_flush(); SELECT tup_inserted + tup_updated + tup_deleted AS n FROM pg_stat_database WHERE datname = current_database()')
    return Number((r as unknown as Array<{ rows: Array<{ n: string }> }>)[1]!.rows[0]!.n)
  } finally {
    await c.end()
  }
}

async function fleetMode(mode: string, env: Record<string, string>, bareUrl: string): Promise<Row> {
  const { srv, pool, etags, setup } = await fleetServer(env)
  try {
    if (!env.DATABASE_URL) return { mode, setup, ...(await paired(srv.url, pool, bareUrl, etags)) }
    const w0 = await pgWrites(env.DATABASE_URL)
    const result = await paired(srv.url, pool, bareUrl, etags)
    const written = (await pgWrites(env.DATABASE_URL)) - w0
    return { mode, setup: `${setup}, ${written} rows written in ${result.r.total} polls`, ...result }
  } finally {
    await srv.close()
  }
}

/** --limiter: limits off and on, same fleet, alternating rounds; then the same under a flood of wrong credentials. */
async function limiterBench(): Promise<void> {
  const off = await fleetServer({ SLIPWAY_AUTH_FAILURES_PER_MINUTE: '0', SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE: '0' })
  const on = await fleetServer({})
  const wrong = Array.from({ length: 1000 }, () => DEVICE_CREDENTIAL_PREFIX + randomBytes(32).toString('base64url'))
  const rounds: Record<'off' | 'on' | 'offFlood' | 'onFlood' | 'flood401' | 'flood429', LoadResult[]> = { off: [], on: [], offFlood: [], onFlood: [], flood401: [], flood429: [] }
  let etOff = off.etags
  let etOn = on.etags
  const valid = (s: typeof off, etags: Array<[string, string]>) => runLoad({ url: s.srv.url, path: PATH, devices: s.pool, seconds: SECONDS, connections: CONNECTIONS, etags })
  // the flood gets a quarter of the connections: it competes for the CPU on both sides alike
  const flood = (s: typeof off) => runLoad({ url: s.srv.url, path: PATH, devices: { bearer: wrong }, seconds: SECONDS, connections: Math.max(1, CONNECTIONS >> 2) })
  try {
    for (let i = 0; i < ROUNDS; i++) {
      // which server goes first alternates, so drift in the machine's load favours neither
      const first = i % 2 === 0
      const a = first ? await valid(off, etOff) : undefined
      const b = await valid(on, etOn)
      const a2 = a ?? (await valid(off, etOff))
      const [d, fd] = first ? [undefined, undefined] : await Promise.all([valid(on, b.etags), flood(on)])
      const [c, fc] = await Promise.all([valid(off, a2.etags), flood(off)])
      const [d2, fd2] = d && fd ? [d, fd] : await Promise.all([valid(on, b.etags), flood(on)])
      etOff = c.etags
      etOn = d2.etags
      rounds.off.push(a2)
      rounds.on.push(b)
      rounds.offFlood.push(c)
      rounds.onFlood.push(d2)
      rounds.flood401.push(fc)
      rounds.flood429.push(fd2)
    }
  } finally {
    await off.srv.close()
    await on.srv.close()
  }
  const r = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, combine(v)])) as Record<keyof typeof rounds, LoadResult>
  const mix = (s: Record<string, number>) =>
    Object.entries(s)
      .sort()
      .map(([k, v]) => `${k}:${v}`)
      .join(' ')
  const line = (mode: string, x: LoadResult, base: LoadResult) =>
    `${mode.padEnd(44)} ${Math.round(x.rps).toLocaleString('en-US').padStart(9)} ${String(x.p50).padStart(7)} ${String(x.p99).padStart(7)} ${(x.rps / base.rps).toFixed(2).padStart(6)}  ${mix(x.statuses)}\n`
  process.stdout.write(`\nbench:poll --limiter — ${DEVICES.toLocaleString('en-US')} devices, ${POOL.toLocaleString('en-US')} polling credentials, ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s alternating\n`)
  process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores\n\n`)
  process.stdout.write(`${'mode (embedded SQLite)'.padEnd(44)} ${'polls/s'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'ratio'.padStart(6)}  statuses\n`)
  process.stdout.write(line('valid polls, limits off', r.off, r.off))
  process.stdout.write(line('valid polls, limits on', r.on, r.off))
  process.stdout.write(line('valid polls under a flood, limits off', r.offFlood, r.offFlood))
  process.stdout.write(line('valid polls under a flood, limits on', r.onFlood, r.offFlood))
  process.stdout.write(line('  the flood itself, limits off', r.flood401, r.flood401))
  process.stdout.write(line('  the flood itself, limits on', r.flood429, r.flood401))
  const ratio = r.on.rps / r.off.rps
  process.stdout.write(`\nratio = limits on ÷ limits off, paired rounds. goal (limiter costs a valid poll < 10%, ratio ≥ 0.90): ${ratio >= 0.9 ? 'met' : 'MISSED'} (${ratio.toFixed(2)})\n`)
}

function print(rows: Row[]): void {
  const mix = (s: Record<string, number>) =>
    Object.entries(s)
      .sort()
      .map(([k, v]) => `${k}:${v}`)
      .join(' ')
  const line = (mode: string, r: LoadResult, ratio: string, note: string) =>
    `${mode.padEnd(30)} ${Math.round(r.rps).toLocaleString('en-US').padStart(9)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${ratio.padStart(6)}  ${mix(r.statuses)}${r.errors ? ` errors:${r.errors}` : ''}${note}\n`
  process.stdout.write(`\nbench:poll — ${DEVICES.toLocaleString('en-US')} devices, ${POOL.toLocaleString('en-US')} polling credentials, rollout at 10%, ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s per mode alternating with bare Fastify\n`)
  process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores\n\n`)
  process.stdout.write(`${'mode'.padEnd(30)} ${'polls/s'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'ratio'.padStart(6)}  statuses\n`)
  for (const { mode, r, bare, setup } of rows) {
    process.stdout.write(line(`bare Fastify (paired)`, bare, '1.00', ''))
    process.stdout.write(line(mode, r, (r.rps / bare.rps).toFixed(2), `  (${setup})`))
  }
}

const ROUNDS = Number(opt.rounds)
if (opt.limiter) {
  await limiterBench()
  process.exit(0)
}
const bareApp = Fastify({ logger: false })
bareApp.get(PATH, (_req, reply) => reply.header('slipway-poll-interval', '300').code(204).send())
const bareUrl = await bareApp.listen({ host: '127.0.0.1', port: 0 })
const rows: Row[] = []
try {
  if (!opt['no-embedded']) rows.push(await fleetMode('embedded (SQLite)', {}, bareUrl))
  if (!opt['no-pg']) {
    const pg = await freshPostgres()
    try {
      rows.push(await fleetMode('PostgreSQL + Redis', { DATABASE_URL: pg.url, REDIS_URL: 'redis://127.0.0.1:6379', SLIPWAY_QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}` }, bareUrl))
    } finally {
      await pg.drop()
    }
  }
} finally {
  await bareApp.close()
}
print(rows)
const met = rows.every((row) => row.r.rps / row.bare.rps >= 0.35 && row.r.p99 < 20)
process.stdout.write(`\nratio = polls/s ÷ the paired bare Fastify rounds (a constant 204). goal in every mode measured (≥ 0.35 and p99 < 20 ms): ${met ? 'met' : 'MISSED'}\n`)

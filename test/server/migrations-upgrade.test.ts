/**
 * Issue 14 §7: every migration upgrades a database that holds data. The data is made
 * by the real server (releases, trust root, enrollment, a rollout, a poll's signed
 * assignment, reports, a saved group, the audit chain) and dumped table by table. Then,
 * for each migration N and on SQLite and PostgreSQL: a database built up to N-1 only,
 * the dumped rows of every table that exists then (restricted to the columns it has
 * then) inserted, and the server started on it as an operator would after an upgrade
 * (it migrates to the newest schema at start). Every row inserted must still be there
 * with the same values, and the server must work on it: list devices and releases,
 * show the rollout, verify the audit chain, and answer the device's poll with its
 * assignment (304 to the ETag it holds).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { connectDatabase, migrateTo, migrationNames, MIGRATIONS_DIR } from '../../server/adapters/db/index.js'
import { loadConfig } from '../../server/config.js'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { launch } from '../../server/main.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'

type Row = Record<string, unknown>

/** Tables in the order migrations create them (parents before children). */
function tablesInOrder(): string[] {
  const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{3}_.*\.sql$/.test(f)).sort()
  const names: string[] = []
  for (const f of files) for (const m of readFileSync(join(MIGRATIONS_DIR, f), 'utf8').matchAll(/CREATE TABLE (\w+)/g)) names.push(m[1]!.replace(/_v\d+$/, ''))
  return [...new Set(names)]
}

async function columnsOf(db: Kysely<any>): Promise<Map<string, string[]>> {
  const tables = await db.introspection.getTables()
  return new Map(tables.filter((x) => !x.name.startsWith('kysely_')).map((x) => [x.name, x.columns.map((c) => c.name)]))
}

const norm = (v: unknown) => (v === null || v === undefined ? null : String(v))

/** What the server made: every table's rows, the device's credential and ETag, the keys and blobs folder. */
async function makeData(t: Test) {
  const srv: TestServer = await startServer()
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const dev = await enroll(srv, await enrollmentToken(srv, 'field'), { installed: [installedOf(v1)] })
  t.equal((await call(srv, op, 'PUT', '/v1/device-groups/pilots', { selector: { group: 'field' }, reason: 'test' })).status < 300, true, 'a saved group')
  const ro = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], gate: { minSample: 1000 }, start: true, reason: 'test' })
  t.equal(ro.status, 201, ro.raw.toString())
  const polled = await deviceCall(srv, dev, 'GET', '/v1/device/update')
  t.equal(polled.status, 200, 'the device has an assignment')
  const rolloutId = ro.json.rollout.id as string
  const ev = (seq: number, state: string) => ({ id: `e-${seq}`, seq, rolloutId, release: { name: 'rootfs', version: '1.1.0' }, state, mode: 'full' })
  t.equal((await deviceCall(srv, dev, 'POST', '/v1/device/events', { events: [ev(1, 'downloading'), ev(2, 'installing')] })).status, 200)
  const { db } = connectDatabase({ sqlitePath: join(srv.config.dataDir, 'slipway.db') })
  const rows = new Map<string, Row[]>()
  for (const table of (await columnsOf(db)).keys()) rows.set(table, (await sql<Row>`select * from ${sql.table(table)}`.execute(db)).rows)
  await db.destroy()
  const files = mkdtempSync(join(tmpdir(), 'slipway-mig-files-'))
  cpSync(srv.config.dataDir, files, { recursive: true, filter: (p) => !/slipway\.db/.test(p) })
  t.teardown(() => rmSync(files, { recursive: true, force: true }))
  await srv.close()
  return { rows, files, dev, etag: polled.headers.get('etag')!, rolloutId }
}

t.test('each migration upgrades a database holding data, on SQLite and PostgreSQL', async (t) => {
  const data = await makeData(t)
  const order = tablesInOrder()
  for (const table of order) if (!data.rows.has(table)) throw new Error(`table ${table} from the migrations is missing in the newest schema`)
  const names = await migrationNames()
  t.ok(names.length >= 2)
  for (const dialect of ['sqlite', 'postgres'] as const) {
    for (let n = 1; n < names.length; n++) {
      const before = names[n - 1]!
      await t.test(`${dialect}: data at ${before}, upgraded through ${names[n]} to ${names.at(-1)}`, async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'slipway-mig-'))
        t.teardown(() => rmSync(dir, { recursive: true, force: true }))
        cpSync(data.files, dir, { recursive: true })
        const pg = dialect === 'postgres' ? await freshPostgres() : undefined
        if (pg) t.teardown(() => pg.drop())
        // the database as schema `before` left it, with the data of that time
        const db = connectDatabase({ databaseUrl: pg?.url, sqlitePath: join(dir, 'slipway.db') }).db as unknown as Kysely<any>
        const inserted = new Map<string, Row[]>()
        try {
          await migrateTo(db, before)
          const cols = await columnsOf(db)
          for (const table of order) {
            const have = cols.get(table)
            if (!have) continue
            const rows = data.rows.get(table)!.map((r) => Object.fromEntries(have.map((c) => [c, r[c] ?? null])))
            for (const r of rows) await db.insertInto(table).values(r).execute()
            inserted.set(table, rows)
          }
        } finally {
          await db.destroy()
        }
        t.ok(inserted.get('api_tokens')?.length, `rows inserted at ${before}: ${[...inserted].map(([k, v]) => `${k} ${v.length}`).join(', ')}`)

        // the upgrade: the server migrates at start
        const config = loadConfig({ SLIPWAY_DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', ...(pg && { DATABASE_URL: pg.url }) })
        const server = await launch(config, { logger: false })
        t.teardown(() => server.close())
        const srv = { url: server.url } as TestServer

        const after = connectDatabase({ databaseUrl: pg?.url, sqlitePath: join(dir, 'slipway.db') }).db
        try {
          for (const [table, rows] of inserted) {
            const now = (await sql<Row>`select * from ${sql.table(table)}`.execute(after)).rows
            const key = (r: Row) => JSON.stringify(Object.keys(rows[0] ?? {}).sort().map((c) => norm(r[c])))
            const have = new Set(now.map(key))
            const lost = rows.filter((r) => !have.has(key(r)))
            t.same(lost, [], `${table}: all ${rows.length} rows kept, values unchanged`)
          }
        } finally {
          await after.destroy()
        }

        const op = (await server.container.auth.create('operator', 'migration test')).token
        const devices = await call(srv, op, 'GET', '/v1/devices')
        t.equal(devices.status, 200)
        const hasFleet = inserted.has('devices')
        t.equal(devices.json.devices.length, hasFleet ? 1 : 0, 'the devices list')
        const releases = await call(srv, op, 'GET', '/v1/releases')
        t.equal(releases.status, 200)
        t.equal((releases.json.releases ?? releases.json).length, 2, 'both releases listed')
        if (!hasFleet) return
        t.equal((await call(srv, op, 'GET', `/v1/rollouts/${data.rolloutId}`)).json.rollout.state, 'running', 'the rollout')
        const audit = (await call(srv, op, 'GET', '/v1/audit?limit=1000')).json
        const entries = audit.entries ?? audit
        t.ok(entries.length >= data.rows.get('audit_log')!.length, 'the audit log')
        t.ok(verifyChain(entries).ok, 'and its chain verifies')
        const poll = await deviceCall(srv, data.dev, 'GET', '/v1/device/update', undefined, { 'if-none-match': data.etag })
        if (!inserted.has('device_certificates')) {
          // a schema from before key-bound identity (005) holds no certificate: such a device had a
          // bearer credential (SLIPWAY_DEVICE_BEARER_COMPAT) and is refused by key until it re-enrolls
          t.equal(poll.json?.error?.code, 'DEVICE_CERT_UNKNOWN', 'no certificate before 005: refused by key, named')
          return
        }
        t.equal(poll.status, 304, `the device's credential and assignment work (${poll.status} ${poll.raw})`)
      })
    }
  }
})

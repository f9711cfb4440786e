/**
 * Seeds bench:poll's fleet in bulk: one device written through the repositories (as
 * enrollment writes it), then copied N - 1 times by one INSERT … SELECT per 100,000
 * rows (generate_series on PostgreSQL, a recursive CTE on SQLite), each copy with its
 * own id, hardware id and credential hash. Credentials are `sld_<run secret><i>`, so
 * the database computes each hash (sha256, as enrollment stores it) and the bench
 * knows any device's credential without keeping a million of them. Every column the
 * schema has is copied from the template, so new columns need no change here.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { DEVICE_CREDENTIAL_PREFIX, hashToken } from '../../server/domain/auth/auth-service.js'
import type { InstalledRelease } from '../../server/domain/fleet-model.js'
import type { TestServer } from '../helpers/server.js'

const CHUNK = 100_000

/** Seeds `devices` devices; returns `pool` of them spread over the fleet: their bearer credentials and hardware ids. */
export async function seedFleet(srv: TestServer, installed: InstalledRelease, devices: number, pool: number): Promise<{ credentials: string[]; hardwareIds: string[] }> {
  const secret = randomBytes(12).toString('base64url')
  const credential = (i: number) => `${DEVICE_CREDENTIAL_PREFIX}${secret}${i}`
  const now = new Date().toISOString()
  const template = randomUUID()
  await srv.container.repos.fleet.transaction(async (tx) => {
    await tx.devices.insert({ id: template, hardwareId: 'bench-0', hardware: 'rpi5', group: 'field', tags: [], credentialHash: hashToken(credential(0)), lastSeq: -1, lastState: null, lastReportAt: null, lastSeenAt: null, createdAt: now, updatedAt: now })
    await tx.devices.replaceInstalled(template, [installed], now)
  })
  const copies = srv.config.databaseUrl ? await postgresCopier(srv.config.databaseUrl) : sqliteCopier(join(srv.config.dataDir, 'slipway.db'))
  try {
    const devCols = await copies.columns('devices')
    const instCols = await copies.columns('device_installed')
    const fresh: Record<string, string> = { id: copies.uuid, hardware_id: `'bench-' || i`, credential_hash: copies.sha256(`'${DEVICE_CREDENTIAL_PREFIX}${secret}' || i`) }
    for (let from = 1; from < devices; from += CHUNK) {
      const to = Math.min(devices - 1, from + CHUNK - 1)
      await copies.run(`INSERT INTO devices (${devCols.join(', ')}) SELECT ${devCols.map((c) => fresh[c] ?? `t.${c}`).join(', ')} FROM devices t, ${copies.series(from, to)} WHERE t.id = '${template}'`)
      process.stderr.write(`\rseeded ${(to + 1).toLocaleString('en-US')} devices`)
    }
    process.stderr.write('\n')
    // what each copy runs: the template's installed rows, joined on the copies' hardware ids
    await copies.run(
      `INSERT INTO device_installed (${instCols.join(', ')}) SELECT ${instCols.map((c) => (c === 'device_id' ? 'd.id' : `t.${c}`)).join(', ')} FROM device_installed t, devices d WHERE t.device_id = '${template}' AND d.hardware_id LIKE 'bench-%' AND d.id <> '${template}'`,
    )
    await copies.run('ANALYZE')
  } finally {
    await copies.close()
  }
  const every = Math.max(1, Math.floor(devices / pool))
  const picked = Array.from({ length: Math.min(pool, devices) }, (_, k) => k * every)
  return { credentials: picked.map(credential), hardwareIds: picked.map((i) => `bench-${i}`) }
}

/**
 * Key-bound identity for the pool: the certificate row of one device that enrolled for
 * real (CSR, device CA) is copied once per pool device, each copy with its own serial
 * and device. All copies hold the template's public key, so one private key signs for
 * every pool device; the server checks each request as any other: signature, serial,
 * state and validity, nonce. Returns the serials, in the order of `hardwareIds`.
 */
export async function certifyPool(srv: TestServer, templateSerial: string, hardwareIds: string[]): Promise<string[]> {
  const serials = hardwareIds.map((_, k) => (0x5e0000000 + k).toString(16))
  const copies = srv.config.databaseUrl ? await postgresCopier(srv.config.databaseUrl) : sqliteCopier(join(srv.config.dataDir, 'slipway.db'))
  try {
    const cols = await copies.columns('device_certificates')
    const fresh: Record<string, string> = { serial: 'v.serial', device_id: 'd.id' }
    for (let from = 0; from < serials.length; from += 1000) {
      const values = serials.slice(from, from + 1000).map((s, k) => `('${s}', '${hardwareIds[from + k]}')`).join(', ')
      await copies.run(
        `WITH v(serial, hw) AS (VALUES ${values}) INSERT INTO device_certificates (${cols.join(', ')}) ` +
          `SELECT ${cols.map((c) => fresh[c] ?? `t.${c}`).join(', ')} FROM device_certificates t, v, devices d WHERE t.serial = '${templateSerial}' AND d.hardware_id = v.hw`,
      )
    }
    await copies.run('ANALYZE')
  } finally {
    await copies.close()
  }
  return serials
}

interface Copier {
  columns(table: string): Promise<string[]>
  run(sql: string): Promise<void>
  series(from: number, to: number): string
  sha256(expr: string): string
  uuid: string
  close(): Promise<void>
}

async function postgresCopier(url: string): Promise<Copier> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return {
    columns: async (table) => (await client.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, [table])).rows.map((r) => r.column_name as string),
    run: async (sql) => void (await client.query(sql)),
    series: (from, to) => `generate_series(${from}, ${to}) AS s(i)`,
    sha256: (expr) => `encode(sha256(convert_to(${expr}, 'UTF8')), 'hex')`,
    uuid: 'gen_random_uuid()::text',
    close: () => client.end(),
  }
}

function sqliteCopier(path: string): Copier {
  const db = new Database(path)
  db.pragma('busy_timeout = 30000')
  db.function('bench_sha256', (s: unknown) => createHash('sha256').update(String(s), 'utf8').digest('hex'))
  db.function('bench_uuid', { deterministic: false }, () => randomUUID())
  return {
    columns: async (table) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((r) => r.name),
    run: async (sql) => void db.exec(sql),
    series: (from, to) => `(WITH RECURSIVE s(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM s WHERE i < ${to}) SELECT i FROM s) AS s`,
    sha256: (expr) => `bench_sha256(${expr})`,
    uuid: 'bench_uuid()',
    close: async () => void db.close(),
  }
}

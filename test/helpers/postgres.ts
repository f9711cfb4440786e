/**
 * A fresh PostgreSQL database per test run on the machine's server (127.0.0.1:5432,
 * trust auth), dropped afterwards. Fails loudly when PostgreSQL is not running.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

const ADMIN_URL = process.env.SLIPWAY_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `slipway_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 })
  try {
    await admin.connect()
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${ADMIN_URL}: start it (see README, Tests) — ${(e as Error).message}`)
  }
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}

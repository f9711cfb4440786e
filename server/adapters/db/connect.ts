/**
 * Opens the database: PostgreSQL through `pg` when a URL is given, else SQLite
 * (better-sqlite3) in the data folder. The same Kysely code runs on both.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

// int8 (BIGINT, count(*)) arrives as a string by default; our values stay below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v))

export type Dialect = 'sqlite' | 'postgres'

export interface DatabaseHandle {
  db: Kysely<Database>
  dialect: Dialect
}

export function connectDatabase(opts: { databaseUrl?: string; sqlitePath: string }): DatabaseHandle {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: 5000 })
    // An idle client that loses its server must not crash the process.
    pool.on('error', () => {})
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' }
  }
  mkdirSync(dirname(opts.sqlitePath), { recursive: true })
  const sqlite = new SQLite(opts.sqlitePath)
  // WAL: readers (the CLI, /readyz) never block the writer; NORMAL is durable across
  // process crashes, and across power loss up to the last checkpoint.
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }), dialect: 'sqlite' }
}

/**
 * Kysely's SQLite driver prepares every query anew, and preparing costs more than
 * running a short indexed query. Queries are built from a few shapes, so prepared
 * statements are kept by SQL text (bounded). Safe: Kysely serialises the single
 * connection, and nothing here iterates a statement while another use of it runs.
 */
function withStatementCache(sqlite: SQLite.Database, max = 1000): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>()
  const prepare = sqlite.prepare.bind(sqlite)
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') {
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      }
      return (sql: string) => {
        let stmt = cache.get(sql)
        if (!stmt) {
          stmt = prepare(sql)
          if (cache.size >= max) cache.delete(cache.keys().next().value!)
          cache.set(sql, stmt)
        }
        return stmt
      }
    },
  })
}

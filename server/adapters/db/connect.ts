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
import { withStatementCache } from './statement-cache.js'

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

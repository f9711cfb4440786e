/**
 * Applies migrations/NNN_name.sql in order through Kysely's Migrator, which records
 * what ran and holds a lock so that two replicas starting at once migrate once.
 */
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url))

/** Statements end with ";" at the end of a line; better-sqlite3 runs one statement at a time. */
export function splitStatements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0)
}

class SqlFileProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort()
    const out: Record<string, Migration> = {}
    for (const file of files) {
      const statements = splitStatements(await readFile(`${this.dir}/${file}`, 'utf8'))
      out[file.replace(/\.sql$/, '')] = {
        async up(db: Kysely<unknown>) {
          for (const s of statements) await sql.raw(s).execute(db)
        },
      }
    }
    return out
  }
}

export interface MigrationOutcome {
  applied: string[]
}

export async function migrateToLatest(db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<MigrationOutcome> {
  const migrator = new Migrator({ db, provider: new SqlFileProvider(dir) })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    const where = failed ? ` in ${failed.migrationName}` : ''
    throw new Error(`migration failed${where}: ${(error as Error).message ?? String(error)}`, { cause: error })
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) }
}

/** Migration names in order (`001_initial`, …), as the migrator knows them. */
export async function migrationNames(dir = MIGRATIONS_DIR): Promise<string[]> {
  return Object.keys(await new SqlFileProvider(dir).getMigrations())
}

/** Applies migrations up to and including `target` only (tests build a database at an older schema with it). */
export async function migrateTo(db: Kysely<any>, target: string, dir = MIGRATIONS_DIR): Promise<MigrationOutcome> {
  const migrator = new Migrator({ db, provider: new SqlFileProvider(dir) })
  const { error, results } = await migrator.migrateTo(target)
  if (error) throw new Error(`migration to ${target} failed: ${(error as Error).message ?? String(error)}`, { cause: error })
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) }
}

/** The Kysely adapter: one set of repositories over SQLite or PostgreSQL. */
import { sql } from 'kysely'
import { DependencyUnavailable } from '../../domain/errors.js'
import type { Repositories } from '../../domain/ports/repositories.js'
import { connectDatabase, type Dialect } from './connect.js'
import { migrateToLatest } from './migrate.js'
import { KyselyDeltaRepository } from './delta-repository.js'
import { KyselyMultipartUploadRepository } from './multipart-upload-repository.js'
import { KyselyReleaseRepository } from './release-repository.js'
import { KyselyRootRepository } from './root-repository.js'
import { KyselyTokenRepository } from './token-repository.js'
import { fleetRepositories } from './fleet/index.js'

export { connectDatabase } from './connect.js'
export { migrateTo, migrateToLatest, migrationNames, MIGRATIONS_DIR } from './migrate.js'

export interface OpenOptions {
  databaseUrl?: string
  sqlitePath: string
  /** apply pending migrations before returning (the server does; the CLI's `migrate` does it alone) */
  migrate?: boolean
}

export async function openRepositories(opts: OpenOptions): Promise<Repositories & { dialect: Dialect }> {
  const { db, dialect } = connectDatabase(opts)
  try {
    if (opts.migrate !== false) await migrateToLatest(db)
  } catch (e) {
    await db.destroy()
    throw e
  }
  return {
    dialect,
    tokens: new KyselyTokenRepository(db),
    releases: new KyselyReleaseRepository(db),
    roots: new KyselyRootRepository(db),
    fleet: fleetRepositories(db),
    deltas: new KyselyDeltaRepository(db),
    multipartUploads: new KyselyMultipartUploadRepository(db),
    async ping() {
      try {
        await sql`select 1`.execute(db)
      } catch (e) {
        throw new DependencyUnavailable('database', e)
      }
    },
    close: () => db.destroy(),
  }
}

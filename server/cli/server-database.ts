/**
 * The server's own database, for host-side commands (`token`). Opening SQLite creates
 * the file, so a command run from the wrong folder (or as another user, without the
 * service's SLIPWAY_DATA_DIR) would silently start a new, empty database and hand out
 * tokens no server knows. Refuse instead, naming the path and the likely fix.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { openRepositories } from '../adapters/db/index.js'
import type { Config } from '../config.js'
import type { Repositories } from '../domain/ports/repositories.js'
import { CliFailure } from './args.js'

export async function openServerDatabase(config: Config): Promise<Repositories> {
  const sqlitePath = join(config.dataDir, 'slipway.db')
  if (!config.databaseUrl && !existsSync(sqlitePath))
    throw new CliFailure(
      'DATABASE_NOT_FOUND',
      `no Slipway database at ${sqlitePath}. Run this with the server's configuration: SLIPWAY_DATA_DIR (the systemd units use /var/lib/slipway) ` +
        `or DATABASE_URL, e.g. sudo -u slipway env SLIPWAY_DATA_DIR=/var/lib/slipway slipway token list; or start the server once first`,
    )
  return openRepositories({ databaseUrl: config.databaseUrl, sqlitePath })
}

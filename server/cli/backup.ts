/**
 * `slipway backup DIR` / `slipway restore DIR` for the embedded deployment: the SQLite
 * database (SQLite's online backup: a consistent snapshot while the server runs), the
 * blob files and the key folder. The database is copied first: every blob a release
 * row of the snapshot names was committed before that row, so it is there to copy.
 * Scale-out deployments back up with pg_dump and the bucket (README, Deploy).
 */
import { constants, existsSync } from 'node:fs'
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import SQLite from 'better-sqlite3'
import type { Config } from '../config.js'
import { CliFailure, UsageError } from './args.js'

const USAGE = 'usage: slipway backup DIR | slipway restore DIR'

function embeddedOnly(config: Config): void {
  if (config.databaseUrl || config.s3)
    throw new CliFailure('BACKUP_SCALE_OUT', 'scale-out data lives in PostgreSQL and S3: back up with pg_dump and a bucket copy (README, Deploy); keys live in the PKCS#11 token')
}

async function isEmpty(dir: string): Promise<boolean> {
  return !existsSync(dir) || (await readdir(dir)).length === 0
}

export async function backupCommand(config: Config, argv: string[]): Promise<void> {
  const [dir] = argv
  if (!dir || argv.length > 1) throw new UsageError(USAGE)
  embeddedOnly(config)
  const db = join(config.dataDir, 'slipway.db')
  if (!existsSync(db)) throw new CliFailure('DATABASE_NOT_FOUND', `no Slipway database at ${db}: set SLIPWAY_DATA_DIR as the server has it`)
  if (!(await isEmpty(dir))) throw new CliFailure('BACKUP_TARGET_NOT_EMPTY', `${dir} is not empty: back up into a new folder`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const source = new SQLite(db, { readonly: true, fileMustExist: true })
  try {
    await source.backup(join(dir, 'slipway.db'))
  } finally {
    source.close()
  }
  const blobs = join(config.dataDir, 'blobs', 'sha256')
  if (existsSync(blobs)) await cp(blobs, join(dir, 'blobs', 'sha256'), { recursive: true, preserveTimestamps: true })
  if (existsSync(config.keys.dir)) await cp(config.keys.dir, join(dir, 'keys'), { recursive: true, mode: constants.COPYFILE_EXCL })
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify({ kind: 'slipway-embedded-backup', createdAt: new Date().toISOString() }, null, 2)}\n`)
  process.stderr.write(`backed up ${config.dataDir} to ${dir} (database, blobs, keys)\n`)
}

export async function restoreCommand(config: Config, argv: string[]): Promise<void> {
  const [dir] = argv
  if (!dir || argv.length > 1) throw new UsageError(USAGE)
  embeddedOnly(config)
  if (!existsSync(join(dir, 'manifest.json')) || !existsSync(join(dir, 'slipway.db')))
    throw new CliFailure('BACKUP_INVALID', `${dir} is not a slipway backup (no manifest.json or slipway.db)`)
  const target = join(config.dataDir, 'slipway.db')
  if (existsSync(target)) throw new CliFailure('RESTORE_TARGET_NOT_EMPTY', `${target} exists: restore into a fresh SLIPWAY_DATA_DIR`)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  await cp(join(dir, 'slipway.db'), target, { mode: constants.COPYFILE_EXCL })
  if (existsSync(join(dir, 'blobs'))) await cp(join(dir, 'blobs'), join(config.dataDir, 'blobs'), { recursive: true, preserveTimestamps: true })
  if (existsSync(join(dir, 'keys'))) await cp(join(dir, 'keys'), config.keys.dir, { recursive: true, mode: constants.COPYFILE_EXCL })
  process.stderr.write(`restored ${dir} into ${config.dataDir}\n`)
}

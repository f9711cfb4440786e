/** `slipway start`: the API server, with graceful shutdown on SIGTERM/SIGINT. */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { unknownVariableWarnings } from '../config-unknown.js'
import { launch } from '../main.js'

/**
 * The bootstrap admin token goes to a 0600 file in the data folder, never to stdout:
 * under systemd stdout is the journal, which many more people can read than the data folder.
 */
async function saveBootstrapToken(config: Config, token: string): Promise<string> {
  const file = join(config.dataDir, 'bootstrap-admin-token')
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  // 'wx': an older token file is never overwritten; the database only keeps the new hash
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e
    await writeFile(file, `${token}\n`, { mode: 0o600 })
  })
  return file
}

export async function startServer(config: Config): Promise<void> {
  const server = await launch(config)
  const log = server.app.log
  for (const w of unknownVariableWarnings()) {
    log.warn(w)
    process.stderr.write(`warning: ${w}\n`)
  }
  if (server.bootstrapToken) {
    const file = await saveBootstrapToken(config, server.bootstrapToken)
    process.stdout.write(
      `\n  Bootstrap admin token written to ${file} (mode 0600; the database keeps only its hash).\n` +
        `  Store it, delete the file, and export SLIPWAY_TOKEN=$(cat ${file}) to use the management API as admin.\n\n`,
    )
  }
  for (const w of server.warnings) process.stderr.write(`\n  ${'!'.repeat(78)}\n  ${w}\n  ${'!'.repeat(78)}\n\n`)
  const dev = server.container.devRoot
  if (dev) {
    process.stdout.write(
      `\n  Development root of trust created (root v1, one root key, threshold 1):\n\n` +
        `    CI release key:  ${dev.releaseKeyPath}\n    root key:        ${dev.rootKeyPath}\n    root chain:      ${dev.dir}/1.root.json\n\n` +
        `  Sign pushes with it:  slipway push FILE … --key ${dev.releaseKeyPath}   (or SLIPWAY_RELEASE_KEY=${dev.releaseKeyPath})\n\n`,
    )
  }
  log.info(
    {
      database: config.databaseUrl ? 'postgresql' : 'sqlite',
      blobs: config.s3 ? 's3' : 'files',
      jobs: config.redisUrl ? 'redis (run slipway worker processes)' : 'in process',
      dir: config.dataDir,
    },
    'started',
  )

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    log.info({ signal }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => {
      log.error('in-flight requests did not finish in time; exiting')
      process.exit(1)
    }, config.shutdownGraceSeconds * 1000)
    force.unref()
    await server.close()
    log.info('stopped')
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
}

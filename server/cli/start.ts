/** `slipway start`: the API server, with graceful shutdown on SIGTERM/SIGINT. */
import type { Config } from '../config.js'
import { launch } from '../main.js'

export async function startServer(config: Config): Promise<void> {
  const server = await launch(config)
  const log = server.app.log
  if (server.bootstrapToken) {
    // printed once, to the terminal only: the database keeps just its hash
    process.stdout.write(
      `\n  Bootstrap admin token (shown once, store it now):\n\n    ${server.bootstrapToken}\n\n  export SLIPWAY_TOKEN=<that token> to use the management API as admin.\n\n`,
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
  if (!config.s3 && !config.databaseUrl) log.info({ dir: config.dataDir }, 'embedded mode: SQLite and blob files in the data folder, jobs in process')

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

/** `slipway start`: the API server, with graceful shutdown on SIGTERM/SIGINT. */
import type { Config } from '../config.js'
import { createContainer } from '../container.js'
import { buildApp } from '../http/app.js'
import { closeGracefully } from '../http/shutdown.js'
import { registerWorkers } from '../workers/index.js'

export async function startServer(config: Config): Promise<void> {
  const container = await createContainer(config)
  const app = await buildApp(container)
  const log = app.log
  const bootstrap = await container.auth.bootstrapAdmin(config.adminToken)
  if (bootstrap) {
    // printed once, to the terminal only: the database keeps just its hash
    process.stdout.write(
      `\n  Bootstrap admin token (shown once, store it now):\n\n    ${bootstrap}\n\n  export SLIPWAY_TOKEN=<that token> to use the slipway CLI as admin.\n\n`,
    )
  }
  // embedded mode runs jobs in this process; with Redis, `slipway worker` does
  if (!config.redisUrl) {
    await registerWorkers(container)
    await container.queue.start()
  }
  if (!config.s3) log.info({ dir: config.dataDir }, 'embedded storage: SQLite and blob files in the data folder')
  await app.listen({ host: config.host, port: config.port })

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
    await closeGracefully(app)
    await container.close()
    log.info('stopped')
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
}

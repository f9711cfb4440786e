/**
 * launch(config): the server process minus signal handling — container, app,
 * bootstrap admin, in-process workers in embedded mode, listen. `slipway start`
 * and the tests run exactly this.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createContainer, type Container } from './container.js'
import { buildApp, type AppOptions } from './http/app.js'
import type { Metrics } from './http/metrics.js'
import { closeGracefully } from './http/shutdown.js'
import { registerWorkers } from './workers/index.js'

export interface Launched {
  app: FastifyInstance & { metrics: Metrics }
  container: Container
  /** base URL it listens on */
  url: string
  /** the generated bootstrap admin token, on the first start only */
  bootstrapToken?: string
  /** graceful: in-flight requests finish, then adapters close */
  close(): Promise<void>
}

export async function launch(config: Config, opts: AppOptions = {}): Promise<Launched> {
  const container = await createContainer(config)
  try {
    const app = await buildApp(container, opts)
    const bootstrapToken = await container.auth.bootstrapAdmin(config.adminToken)
    // embedded mode runs jobs in this process; with Redis, `slipway worker` processes do
    if (!config.redisUrl) {
      await registerWorkers(container)
      await container.queue.start()
    }
    await app.listen({ host: config.host, port: config.port })
    const addr = app.server.address()
    const port = addr && typeof addr === 'object' ? addr.port : config.port
    return {
      app,
      container,
      url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      bootstrapToken,
      async close() {
        await closeGracefully(app)
        await container.close()
      },
    }
  } catch (e) {
    await container.close()
    throw e
  }
}

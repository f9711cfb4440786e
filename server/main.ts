/**
 * launch(config): the server process minus signal handling — container, app,
 * bootstrap admin, in-process workers in embedded mode, listen. `slipway start`
 * and the tests run exactly this.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createContainer, type Container } from './container.js'
import { buildApp, type AppOptions } from './http/app.js'
import type { Metrics } from './metrics/metrics.js'
import { closeGracefully } from './http/shutdown.js'
import { registerWorkers } from './workers/index.js'
import type { FleetVersions } from './domain/ports/infrastructure.js'

export interface LaunchOptions extends AppOptions {
  /** what the fleet runs, for delta planning (tests inject one; default: the container's stub) */
  fleet?: FleetVersions
}

export interface Launched {
  app: FastifyInstance & { metrics: Metrics }
  container: Container
  /** base URL it listens on */
  url: string
  /** the generated bootstrap admin token, on the first start only */
  bootstrapToken?: string
  /** start-up warnings that an operator must see (also logged at warn) */
  warnings: string[]
  /** graceful: in-flight requests finish, then adapters close */
  close(): Promise<void>
}

/** DESIGN.md: file keys are for development only, and the start must say so loudly. */
function trustWarnings(c: Container): string[] {
  if (c.onlineSigner.keyKind !== 'file') return []
  return [
    `WARNING: the online key ${c.onlineSigner.keyId} is a FILE key (${c.config.keys.online.kind === 'file' ? c.config.keys.online.path : ''}). ` +
      'Anyone who can read that file can sign device assignments and deltas. Use a PKCS#11 key (PKCS11_MODULE, HSM / TPM / KMS) in production.',
  ]
}

export async function launch(config: Config, opts: LaunchOptions = {}): Promise<Launched> {
  const container = await createContainer(config, opts.fleet ? { fleet: opts.fleet } : {})
  try {
    const app = await buildApp(container, opts)
    const bootstrapToken = await container.auth.bootstrapAdmin(config.adminToken)
    const warnings = trustWarnings(container)
    for (const w of warnings) app.log.warn({ onlineKeyId: container.onlineSigner.keyId }, w)
    if (container.devRoot) app.log.info({ ...container.devRoot }, 'created the development root of trust (root v1) and its file keys')
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
      url: `${config.identity.tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      bootstrapToken,
      warnings,
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

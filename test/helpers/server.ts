/** A real server on loopback over real adapters in a temp dir (embedded defaults unless env overrides). */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../server/config.js'
import { createContainer, type Container } from '../../server/container.js'
import { buildApp } from '../../server/http/app.js'
import { closeGracefully } from '../../server/http/shutdown.js'
import { registerWorkers } from '../../server/workers/index.js'

export interface TestServer {
  url: string
  adminToken: string
  container: Container
  config: Config
  app: Awaited<ReturnType<typeof buildApp>>
  /** a fresh token of a role */
  token(role: 'admin' | 'ci' | 'operator', ttlSeconds?: number): Promise<string>
  close(): Promise<void>
}

export async function startServer(env: Record<string, string> = {}, log?: NodeJS.WritableStream): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-srv-'))
  const config = loadConfig({ SLIPWAY_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...env })
  const container = await createContainer(config)
  await registerWorkers(container)
  await container.queue.start()
  const adminToken = (await container.auth.bootstrapAdmin()) ?? ''
  const app = await buildApp(container, { logger: log ? { level: 'info', stream: log } : false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('no address')
  return {
    url: `http://127.0.0.1:${addr.port}`,
    adminToken,
    container,
    config,
    app,
    token: async (role, ttl) => (await container.auth.create(role, `test ${role}`, ttl)).token,
    async close() {
      await closeGracefully(app)
      await container.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** A real server on loopback, launched as `slipway start` launches it, over real adapters in a temp dir. */
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../server/config.js'
import type { Container } from '../../server/container.js'
import { launch, type Launched, type LaunchOptions } from '../../server/main.js'

export interface TestServer {
  url: string
  adminToken: string
  container: Container
  config: Config
  app: Launched['app']
  /** a fresh token of a role */
  token(role: 'admin' | 'ci' | 'operator' | 'viewer', ttlSeconds?: number): Promise<string>
  close(): Promise<void>
}

/**
 * Data folders of servers not closed yet. A test that fails (or throws) before its
 * teardown closes the server would leave its slipway-srv-* folder behind; whatever the
 * outcome, they go when the test process exits.
 */
const open = new Set<string>()
process.once('exit', () => {
  for (const dir of open) rmSync(dir, { recursive: true, force: true })
})

async function removeDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  open.delete(dir)
}

/** `env` adds to or overrides the embedded defaults (e.g. DATABASE_URL, REDIS_URL, S3_*). */
export async function startServer(
  env: Record<string, string> = {},
  log?: NodeJS.WritableStream,
  opts: Pick<LaunchOptions, 'fleet'> = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-srv-'))
  open.add(dataDir)
  let config: Config
  let server: Launched
  try {
    config = loadConfig({ SLIPWAY_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...env })
    server = await launch(config, { logger: log ? { level: 'info', stream: log } : false, ...opts })
  } catch (e) {
    // a server that never started has no teardown to remove its folder
    await removeDataDir(dataDir)
    throw e
  }
  return {
    url: server.url,
    adminToken: server.bootstrapToken ?? '',
    container: server.container,
    config,
    app: server.app,
    token: async (role, ttl) => (await server.container.auth.create(role, `test ${role}`, ttl)).token,
    async close() {
      try {
        await server.close()
      } finally {
        // the folder goes even when closing the server fails (the teardown still reports that)
        await removeDataDir(dataDir)
      }
    },
  }
}

/**
 * The demo's server: the embedded one (SQLite, files, in-process jobs), launched as
 * `slipway start` launches it, with its data folder inside the demo's temp folder and
 * its log in `server.log` there. Short intervals so a rollout fits in a minute.
 */
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../server/config.js'
import { launch, type Launched } from '../server/main.js'
import type { TestServer } from '../test/helpers/server.js'

export interface DemoServerOptions {
  dir: string
  /** 0: any free port */
  port: number
  pollIntervalSeconds: number
}

async function launchOn(o: DemoServerOptions, port: number): Promise<Launched> {
  const config = loadConfig({
    SLIPWAY_DATA_DIR: join(o.dir, 'server'),
    PORT: String(port),
    LOG_LEVEL: 'info',
    SLIPWAY_POLL_INTERVAL_SECONDS: String(o.pollIntervalSeconds),
    // gates are evaluated every second, and 200 devices enroll with one token in a few seconds
    SLIPWAY_ROLLOUT_TICK_SECONDS: '1',
    SLIPWAY_ENROLLMENTS_PER_TOKEN_PER_MINUTE: '0',
  })
  return launch(config, { logger: { level: 'info', stream: createWriteStream(join(o.dir, 'server.log')) } })
}

/** The same shape the test helpers take, so the demo pushes and enrolls the way the tests do. */
export async function startDemoServer(o: DemoServerOptions): Promise<TestServer & { warnings: string[] }> {
  let server: Launched
  try {
    server = await launchOn(o, o.port)
  } catch (e) {
    // the default port is taken: any free one will do, the URL is printed
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || o.port === 0) throw e
    server = await launchOn(o, 0)
  }
  return {
    url: server.url,
    adminToken: server.bootstrapToken ?? '',
    container: server.container,
    config: server.container.config,
    app: server.app,
    warnings: server.warnings,
    token: async (role, ttl) => (await server.container.auth.create(role, `demo ${role}`, ttl)).token,
    close: () => server.close(),
  }
}

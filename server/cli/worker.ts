/**
 * `slipway worker`: runs the job processors against the shared queue (Redis), and
 * serves /healthz, /readyz and /metrics on WORKER_PORT.
 */
import pino from 'pino'
import type { Config } from '../config.js'
import { unknownVariableWarnings } from '../config-unknown.js'
import { createContainer } from '../container.js'
import { buildWorkerApp } from '../http/worker-app.js'
import { registerWorkers } from '../workers/index.js'

export async function runWorker(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel, name: 'slipway-worker' })
  for (const w of unknownVariableWarnings()) log.warn(w)
  if (!config.redisUrl) log.warn('REDIS_URL is not set: this worker sees only its own in-process queue, which nothing else feeds')
  const container = await createContainer(config, { onQueueError: (err) => log.warn({ err }, 'queue connection error'), deviceCa: false })
  const app = await buildWorkerApp(container, { level: config.logLevel === 'info' ? 'warn' : config.logLevel })
  try {
    await registerWorkers(container)
    await container.queue.start()
    await app.listen({ host: config.host, port: config.workerPort })
  } catch (e) {
    await app.close().catch(() => {})
    await container.close()
    throw e
  }
  const addr = app.server.address()
  const port = addr && typeof addr === 'object' ? addr.port : config.workerPort
  log.info({ url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}` }, 'worker started; /metrics and /healthz at url')
  const stop = async (signal: string) => {
    log.info({ signal }, 'worker stopping: letting active jobs finish')
    await app.close()
    await container.close()
    log.info('worker stopped')
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
}

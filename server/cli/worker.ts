/** `slipway worker`: runs the job processors against the shared queue (Redis). */
import pino from 'pino'
import type { Config } from '../config.js'
import { unknownVariableWarnings } from '../config-unknown.js'
import { createContainer } from '../container.js'
import { registerWorkers } from '../workers/index.js'

export async function runWorker(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel, name: 'slipway-worker' })
  for (const w of unknownVariableWarnings()) log.warn(w)
  if (!config.redisUrl) log.warn('REDIS_URL is not set: this worker sees only its own in-process queue, which nothing else feeds')
  const container = await createContainer(config, { onQueueError: (err) => log.warn({ err }, 'queue connection error') })
  await registerWorkers(container)
  await container.queue.start()
  log.info('worker started')
  const stop = async (signal: string) => {
    log.info({ signal }, 'worker stopping: letting active jobs finish')
    await container.close()
    log.info('worker stopped')
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
}

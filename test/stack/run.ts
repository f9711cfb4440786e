/**
 * `npm run stack`: the scale-out topology of deploy/compose.yaml on this machine, no
 * container engine needed (nginx from Debian, PostgreSQL and Redis on their default
 * local ports, s3rver in this process). Prints where everything is; Ctrl-C stops it all.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStack } from '../helpers/stack.js'

const dir = await mkdtemp(join(tmpdir(), 'slipway-stack-'))
const stack = await startStack(dir, { log: (l) => process.stdout.write(`${l}\n`), logLevel: process.env.LOG_LEVEL ?? 'info' })
process.stdout.write(
  `\nSlipway stack up (files in ${dir}):\n\n` +
    `  export SLIPWAY_URL=${stack.url} SLIPWAY_TOKEN=${stack.adminToken}\n` +
    `  export NODE_EXTRA_CA_CERTS=${stack.tls.serverCert} SLIPWAY_RELEASE_KEY=${stack.releaseKey}\n` +
    `  device client certificate (optional): ${stack.tls.clientCert} ${stack.tls.clientKey}\n\n` +
    `Ctrl-C stops every process and removes the database, Redis keys and files.\n`,
)
const stop = async () => {
  await stack.stop()
  await rm(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())

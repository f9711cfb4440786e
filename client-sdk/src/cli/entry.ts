/** Process entry of `slipway-agent` (and of the single-file bundle): run the command, exit with its code. */
import { main } from './main.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`AGENT_INTERNAL: ${(e as Error)?.stack ?? String(e)}\n`)
    process.exitCode = 1
  },
)

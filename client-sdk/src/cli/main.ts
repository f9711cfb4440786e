/** `slipway-agent` entry: a small dispatcher; each command returns its exit code. */
import { DELTA_APPLY_USAGE, deltaApply, EXIT } from './delta-apply.js'

const HELP = `slipway-agent — the Slipway device agent

  slipway-agent delta apply SOURCE PATCH TARGET [--expect-target SHA256] [--progress-file FILE]
                          rebuild TARGET from SOURCE and a delta, verifying as it goes
  slipway-agent --help    this text`

type Command = (args: string[]) => Promise<number>

const COMMANDS: Record<string, Command> = {
  delta: async ([sub, ...rest]) => {
    if (sub === 'apply') return deltaApply(rest)
    process.stderr.write(`unknown delta command "${sub ?? ''}"\n\n${DELTA_APPLY_USAGE}\n`)
    return EXIT.usage
  },
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP}\n`)
    return EXIT.ok
  }
  const run = COMMANDS[command]
  if (!run) {
    process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`)
    return EXIT.usage
  }
  return run(rest)
}

process.exitCode = await main(process.argv.slice(2))

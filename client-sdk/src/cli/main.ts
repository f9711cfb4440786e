/** `slipway-agent` dispatcher: each command returns its exit code. The process entry is `entry.ts`. */
import { DELTA_APPLY_USAGE, deltaApply, EXIT } from './delta-apply.js'
import { enrollCommand, runCommand, statusCommand } from './daemon-commands.js'

const HELP = `slipway-agent — the Slipway device agent

  slipway-agent run [--config FILE] [--once]
                          poll, verify, install, reboot, health-check, report (the systemd service);
                          --once: one round, then exit
  slipway-agent enroll [--config FILE] --token TOKEN
                          trade an enrollment token (or $SLIPWAY_ENROLLMENT_TOKEN) for a device credential (mode 0600)
  slipway-agent status [--config FILE]
                          device id, slots and journal as JSON
  slipway-agent delta apply SOURCE PATCH TARGET [--expect-target SHA256] [--progress-file FILE]
                          rebuild TARGET from SOURCE and a delta, verifying as it goes
  slipway-agent --help    this text

  FILE defaults to /etc/slipway-agent/config.json. Errors print as CODE: message; exit 0 ok, 1 failed, 64 usage.`

type Command = (args: string[]) => Promise<number>

/** Usage per command and subcommand: `--help` / `-h` after any of them prints it and exits 0 before anything runs. */
export const COMMAND_USAGE: Record<string, string> = {
  run: 'usage: slipway-agent run [--config FILE] [--once]',
  enroll: 'usage: slipway-agent enroll [--config FILE] --token TOKEN',
  status: 'usage: slipway-agent status [--config FILE]',
  delta: DELTA_APPLY_USAGE,
}
export const SUBCOMMANDS: Record<string, string[]> = { delta: ['apply'] }

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  enroll: enrollCommand,
  status: statusCommand,
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
  if (COMMAND_USAGE[command] !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${COMMAND_USAGE[command]}\n`)
    return EXIT.ok
  }
  const run = COMMANDS[command]
  if (!run) {
    process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`)
    return EXIT.usage
  }
  return run(rest)
}

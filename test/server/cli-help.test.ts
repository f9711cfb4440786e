/**
 * Issue 11: `--help` (and `-h`) on every command and subcommand of `slipway` and
 * `slipway-agent` prints usage on stdout and exits 0. The cases come from the CLIs'
 * own command tables, so a new command is covered without editing this test.
 */
import t from 'tap'
import { COMMAND_USAGE, SUBCOMMANDS } from '../../server/cli/usage.js'
import { COMMAND_USAGE as AGENT_USAGE, SUBCOMMANDS as AGENT_SUBCOMMANDS } from '../../client-sdk/src/cli/main.js'
import { slipway, slipwayAgent } from '../helpers/cli.js'

const cases: Array<{ bin: 'slipway' | 'slipway-agent'; args: string[] }> = []
for (const [command, subs] of [...Object.keys(COMMAND_USAGE).map((c) => [c, SUBCOMMANDS[c] ?? []] as const)]) {
  cases.push({ bin: 'slipway', args: [command, '--help'] })
  for (const sub of subs) cases.push({ bin: 'slipway', args: [command, sub, sub === 'create' ? '-h' : '--help'] })
}
for (const command of Object.keys(AGENT_USAGE)) {
  cases.push({ bin: 'slipway-agent', args: [command, '--help'] })
  for (const sub of AGENT_SUBCOMMANDS[command] ?? []) cases.push({ bin: 'slipway-agent', args: [command, sub, '--help'] })
}

t.test('every command and subcommand answers --help with its usage, exit 0', async (t) => {
  // a few at a time: each is a Node process
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(
      cases.slice(i, i + 4).map(async ({ bin, args }) => {
        const run = bin === 'slipway' ? slipway(args, { SLIPWAY_DATA_DIR: '/nonexistent/help-must-not-touch-this' }) : slipwayAgent(args)
        const { code, stdout, stderr } = await run.done
        t.equal(code, 0, `${bin} ${args.join(' ')} exits 0 (stderr: ${stderr.slice(0, 200)})`)
        t.match(stdout, /usage/i, `${bin} ${args.join(' ')} prints usage`)
      }),
    )
  }
})

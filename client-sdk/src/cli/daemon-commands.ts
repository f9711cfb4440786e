/**
 * `slipway-agent run | enroll | status`: the daemon and its two helpers. Each
 * takes `--config FILE` (default /etc/slipway-agent/config.json, as the systemd unit) and prints errors as
 * `CODE: message` on stderr.
 *   run [--once]          poll/install/report until SIGTERM (systemd), or one round
 *   enroll --token TOKEN  trade an enrollment token (or $SLIPWAY_ENROLLMENT_TOKEN) for a credential
 *   status                print device id, slots and journal as JSON
 */
import { parseArgs } from 'node:util'
import { createAgent } from '../agent/agent.js'
import { loadConfigFile } from '../config/agent-config.js'
import { reasonOf } from '../errors.js'
import { EXIT, type CliIo } from './delta-apply.js'

export const DEFAULT_CONFIG = '/etc/slipway-agent/config.json'

/** after SIGTERM the process exits within this long even if a step has not reached a safe point, ms */
const STOP_GRACE_MS = 4000

const stdio: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }

function parse(args: string[], extra: Record<string, { type: 'string' | 'boolean' }>, io: CliIo) {
  try {
    return parseArgs({ args, options: { config: { type: 'string', short: 'c' }, ...extra }, strict: true }).values as Record<string, string | boolean | undefined>
  } catch (e) {
    io.err(`${(e as Error).message}\n`)
    return undefined
  }
}

function fail(io: CliIo, e: unknown): number {
  const r = reasonOf(e)
  io.err(`${r.code}: ${r.message}\n`)
  return EXIT.failed
}

export async function runCommand(args: string[], io: CliIo = stdio): Promise<number> {
  const v = parse(args, { once: { type: 'boolean' } }, io)
  if (!v) return EXIT.usage
  try {
    const agent = await createAgent(await loadConfigFile(String(v.config ?? DEFAULT_CONFIG)))
    if (v.once) {
      const r = await agent.tick()
      io.out(`${JSON.stringify(r)}\n`)
      agent.close()
      return EXIT.ok
    }
    const stop = new AbortController()
    for (const sig of ['SIGTERM', 'SIGINT'] as const)
      process.once(sig, () => {
        // the update stops at its next safe point (checkpointed); every journal write is atomic, so
        // should a step not reach one in time, exiting anyway loses nothing (systemd's stop timeout is longer)
        stop.abort()
        setTimeout(() => process.exit(EXIT.ok), STOP_GRACE_MS).unref()
      })
    await agent.run(stop.signal)
    agent.close()
    return EXIT.ok
  } catch (e) {
    return fail(io, e)
  }
}

export async function enrollCommand(args: string[], io: CliIo = stdio): Promise<number> {
  const v = parse(args, { token: { type: 'string' } }, io)
  if (!v) return EXIT.usage
  const token = (v.token as string | undefined) ?? process.env.SLIPWAY_ENROLLMENT_TOKEN
  if (!token) {
    io.err('enroll needs --token TOKEN or SLIPWAY_ENROLLMENT_TOKEN\n')
    return EXIT.usage
  }
  try {
    const agent = await createAgent(await loadConfigFile(String(v.config ?? DEFAULT_CONFIG)))
    const c = await agent.enroll(token)
    agent.close()
    io.out(`enrolled as ${c.deviceId}${c.group ? ` in group ${c.group}` : ''}\n`)
    return EXIT.ok
  } catch (e) {
    return fail(io, e)
  }
}

export async function statusCommand(args: string[], io: CliIo = stdio): Promise<number> {
  const v = parse(args, {}, io)
  if (!v) return EXIT.usage
  try {
    const agent = await createAgent(await loadConfigFile(String(v.config ?? DEFAULT_CONFIG)))
    io.out(`${JSON.stringify(await agent.status(), null, 2)}\n`)
    agent.close()
    return EXIT.ok
  } catch (e) {
    return fail(io, e)
  }
}

/**
 * `slipway device quarantine|release|decommission ID --reason R`: take a device out of
 * the fleet (POST /v1/devices/ID/quarantine, …/release, DELETE /v1/devices/ID). The
 * reason is required: it goes into the audit log.
 */
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'

export const QUARANTINE_USAGE = `  slipway device quarantine ID --reason R     revoke its credential, withdraw its assignment, out of rollout counts
  slipway device release ID --reason R        lift a quarantine (the device must enroll again)
  slipway device decommission ID --reason R   delete its identity, keep its history`

export const QUARANTINE_COMMANDS = ['quarantine', 'release', 'decommission'] as const

export async function quarantineCommand(env: () => CliEnv, sub: (typeof QUARANTINE_COMMANDS)[number], argv: string[]): Promise<void> {
  const usage = `usage: slipway device ${sub} ID --reason R`
  const { values, positionals } = parse(argv, { reason: { type: 'string' } }, usage)
  const id = required(positionals[0], 'ID', usage)
  if (!values.reason) throw new UsageError(`--reason is required (it goes into the audit log)\n${usage}`)
  const path = `/v1/devices/${encodeURIComponent(id)}`
  if (sub === 'decommission') {
    await apiRequest(env(), 'DELETE', path, { reason: values.reason })
    process.stderr.write(`decommissioned device ${id}: its identity is deleted, its history kept\n`)
    return
  }
  await apiRequest(env(), 'POST', `${path}/${sub}`, { reason: values.reason })
  process.stderr.write(
    sub === 'quarantine'
      ? `quarantined device ${id}: credential revoked, assignment withdrawn, out of rollout counts\n`
      : `released device ${id}: it must enroll again to get a new credential\n`,
  )
}

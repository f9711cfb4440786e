/**
 * `slipway release policy NAME [--require F,F…] [--reason TEXT]`: which signed provenance
 * fields a push of NAME must carry (operator, admin); without --require, prints it.
 * Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import { parse, required } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'

export const RELEASE_POLICY_USAGE = `  slipway release policy NAME [--require sourceRevision,builder,sbomDigest,license | --require none] [--reason TEXT] [--json]`

interface Policy {
  name: string
  require: string[]
  updatedBy: string | null
  updatedAt: string | null
}

export async function releasePolicy(env: CliEnv, argv: string[]): Promise<void> {
  const usage = `usage:\n${RELEASE_POLICY_USAGE}`
  const { values, positionals } = parse(argv, { require: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } }, usage)
  const name = required(positionals[0], 'NAME', usage)
  const path = `/v1/releases/${encodeURIComponent(name)}/policy`
  const fields = values.require === undefined ? undefined : values.require === 'none' ? [] : values.require.split(',').map((f) => f.trim()).filter(Boolean)
  const p = (fields === undefined ? await apiRequest(env, 'GET', path) : await apiRequest(env, 'PUT', path, { require: fields, ...(values.reason ? { reason: values.reason } : {}) })).body as Policy
  if (values.json) return void process.stdout.write(`${JSON.stringify(p, null, 2)}\n`)
  process.stdout.write(
    [
      `release policy ${p.name}`,
      `  require       ${p.require.length ? p.require.join(', ') : 'nothing'}`,
      `  updated       ${p.updatedAt ? `${p.updatedAt} by ${p.updatedBy}` : 'never'}`,
      '',
    ].join('\n'),
  )
}

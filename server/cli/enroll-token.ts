/**
 * `slipway enroll-token create|list|revoke`: the tokens devices trade for a credential
 * (/v1/enrollment-tokens). The token is printed once, on stdout; the server keeps only
 * its hash. Reads SLIPWAY_URL and SLIPWAY_TOKEN (operator or admin).
 */
import type { EnrollmentTokenView } from '../http/management/views/index.js'
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { actorNames } from './resolve.js'
import { table } from './table.js'

export const ENROLL_TOKEN_USAGE = `usage:
  slipway enroll-token create --group G --uses N --ttl SECONDS [--require-tpm] [--json]   prints the token once
      --require-tpm: refuse devices whose key is not proven TPM-resident (key attestation)
  slipway enroll-token list [--json]
  slipway enroll-token revoke ID`

type ShownToken = EnrollmentTokenView

function wholeNumber(v: string, flag: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a whole number, not "${v}"\n\n${ENROLL_TOKEN_USAGE}`)
  return n
}

export async function enrollTokenCommand(env: () => CliEnv, argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    { group: { type: 'string' }, uses: { type: 'string' }, ttl: { type: 'string' }, 'require-tpm': { type: 'boolean' }, json: { type: 'boolean' } },
    ENROLL_TOKEN_USAGE,
  )
  const [sub, id] = positionals
  if (sub === 'create') {
    const group = required(values.group, '--group', ENROLL_TOKEN_USAGE)
    const maxUses = wholeNumber(required(values.uses, '--uses', ENROLL_TOKEN_USAGE), '--uses')
    const ttlSeconds = wholeNumber(required(values.ttl, '--ttl', ENROLL_TOKEN_USAGE), '--ttl')
    const { body } = await apiRequest(env(), 'POST', '/v1/enrollment-tokens', { group, maxUses, ttlSeconds, ...(values['require-tpm'] ? { requireTpm: true } : {}) })
    const t = body as ShownToken & { token: string }
    if (values.json) return void process.stdout.write(`${JSON.stringify(t, null, 2)}\n`)
    process.stderr.write(`created enrollment token ${t.id} for group ${t.group}: ${t.maxUses} uses, expires ${t.expiresAt}${t.requireTpm ? ', TPM-resident keys only' : ''}; shown once:\n`)
    process.stdout.write(`${t.token}\n`)
  } else if (sub === 'list') {
    const { body } = await apiRequest(env(), 'GET', '/v1/enrollment-tokens')
    if (values.json) return void process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    const tokens = (body as { tokens: ShownToken[] }).tokens
    const now = new Date().toISOString()
    const status = (t: ShownToken) => (t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : t.uses >= t.maxUses ? 'used up' : 'active')
    const who = tokens.length ? await actorNames(env()) : (a: string) => a
    process.stdout.write(
      tokens.length
        ? table(['id', 'group', 'uses', 'status', 'expires', 'tpm', 'created by'], tokens.map((t) => [t.id, t.group, `${t.uses}/${t.maxUses}`, status(t), t.expiresAt, t.requireTpm ? 'required' : '-', who(t.createdBy)]))
        : 'no enrollment tokens\n',
    )
  } else if (sub === 'revoke') {
    const tid = required(id, 'ID', ENROLL_TOKEN_USAGE)
    await apiRequest(env(), 'DELETE', `/v1/enrollment-tokens/${encodeURIComponent(tid)}`)
    process.stderr.write(`revoked enrollment token ${tid}\n`)
  } else if (sub === undefined || sub === 'help') {
    process.stdout.write(`${ENROLL_TOKEN_USAGE}\n`)
  } else {
    throw new UsageError(`unknown enroll-token command "${sub}"\n\n${ENROLL_TOKEN_USAGE}`)
  }
}

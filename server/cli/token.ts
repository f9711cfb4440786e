/**
 * `slipway token create|list|revoke`: token administration on the server host,
 * straight on the database named by the server's own config (like `migrate`).
 * Remote admins use POST/GET/DELETE /v1/tokens with an admin token instead. It never
 * creates a database: see server-database.ts.
 */
import type { Config } from '../config.js'
import { AuthService } from '../domain/auth/auth-service.js'
import { ROLES, type Role } from '../domain/model.js'
import { parse, required, UsageError } from './args.js'
import { table } from './table.js'
import { openServerDatabase } from './server-database.js'

export const USAGE = `usage:
  slipway token create --role admin|ci|operator|viewer [--label TEXT] [--ttl SECONDS]
  slipway token list
  slipway token revoke ID`

export async function tokenCommand(config: Config, argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    { role: { type: 'string' }, label: { type: 'string' }, ttl: { type: 'string' } },
    USAGE,
  )
  const [action, id] = positionals
  const repos = await openServerDatabase(config)
  try {
    const auth = new AuthService(repos.tokens)
    if (action === 'create') {
      const role = required(values.role, '--role', USAGE)
      if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`)
      const ttl = values.ttl === undefined ? undefined : Number(values.ttl)
      if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 60)) throw new UsageError('--ttl must be whole seconds, at least 60')
      const { token, record } = await auth.create(role as Role, values.label ?? `${role} token`, ttl)
      process.stderr.write(`created ${record.role} token ${record.id}${record.expiresAt ? ` (expires ${record.expiresAt})` : ''}; shown once:\n`)
      process.stdout.write(`${token}\n`)
    } else if (action === 'list') {
      const tokens = await auth.list()
      const now = new Date().toISOString()
      const state = (t: (typeof tokens)[number]) => (t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'active')
      process.stdout.write(
        tokens.length
          ? table(['id', 'role', 'state', 'label', 'created', 'expires'], tokens.map((t) => [t.id, t.role, state(t), t.label, t.createdAt, t.expiresAt ?? 'never']))
          : 'no tokens\n',
      )
    } else if (action === 'revoke') {
      await auth.revoke(required(id, 'ID', USAGE))
      process.stderr.write(`revoked ${id}\n`)
    } else {
      throw new UsageError(USAGE)
    }
  } finally {
    await repos.close()
  }
}

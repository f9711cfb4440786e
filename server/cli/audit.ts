/**
 * `slipway audit verify [--expect-head HASH]`: pages through GET /v1/audit, recomputes
 * the hash chain here (the server is not trusted to check itself) and names the first
 * entry that does not verify. The head hash it prints can be kept elsewhere (a ticket,
 * a chat, a notary) and given back as --expect-head: a later run then also proves that
 * the log still contains that entry unchanged, which a chain alone cannot show for a
 * log truncated at its end.
 */
import { GENESIS_HASH, verifyChain } from '../domain/audit-chain.js'
import type { AuditEntry } from '../http/management/views/index.js'
import { CliFailure, parse, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'

export const AUDIT_USAGE = `usage:
  slipway audit verify [--expect-head HASH] [--page N]
    --expect-head HASH  a head printed by an earlier run: it must still be an entry of the chain`

/** Entries per request (the API's maximum is 5000). */
const PAGE = 1000

export async function auditCommand(env: () => CliEnv, argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { 'expect-head': { type: 'string' }, page: { type: 'string' } }, AUDIT_USAGE)
  if (positionals[0] !== 'verify' || positionals.length > 1) throw new UsageError(AUDIT_USAGE)
  const expect = values['expect-head']?.trim().toLowerCase()
  if (expect !== undefined && !/^[0-9a-f]{64}$/.test(expect)) throw new UsageError(`--expect-head must be a 64-digit hex hash\n\n${AUDIT_USAGE}`)
  const page = values.page === undefined ? PAGE : Number(values.page)
  if (!Number.isInteger(page) || page < 1 || page > 5000) throw new UsageError('--page must be a whole number in 1..5000')

  const e = env()
  let head = { seq: 0, hash: GENESIS_HASH }
  let anchoredAt = expect === GENESIS_HASH ? 0 : undefined
  for (;;) {
    const { body } = await apiRequest(e, 'GET', `/v1/audit?after=${head.seq}&limit=${page}`)
    const entries = (body as { entries: AuditEntry[] }).entries
    const check = verifyChain(entries, head)
    if (!check.ok) {
      const at = entries.findIndex((x) => x.seq === check.brokenAt)
      const lastGood = at > 0 ? entries[at - 1]!.seq : head.seq
      throw new CliFailure('AUDIT_CHAIN_BROKEN', `${check.problem}; the chain verifies up to entry ${lastGood} (hash ${check.head})`)
    }
    if (expect !== undefined && anchoredAt === undefined) anchoredAt = entries.find((x) => x.hash === expect)?.seq
    if (entries.length) head = { seq: entries.at(-1)!.seq, hash: check.head }
    if (entries.length < page) break
  }
  if (expect !== undefined && anchoredAt === undefined)
    throw new CliFailure('AUDIT_HEAD_MISMATCH', `no entry of the log has the expected head ${expect}: the log was truncated or rewritten after it was anchored (current head: entry ${head.seq} ${head.hash})`)
  process.stdout.write(`OK: ${head.seq} entries verify\nhead: ${head.hash} (entry ${head.seq})\n`)
  if (anchoredAt !== undefined) process.stdout.write(`expected head is entry ${anchoredAt}${anchoredAt < head.seq ? `; ${head.seq - anchoredAt} entries appended since` : ' (the current head)'}\n`)
}

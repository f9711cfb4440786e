import { PostgresAdapter, sql, type Kysely, type Selectable } from 'kysely'
import { entryHash, GENESIS_HASH } from '../../../domain/audit-chain.js'
import { assertStorableText } from '../../../domain/storable-text.js'
import type { AuditEntry, NewAuditEntry } from '../../../domain/fleet-model.js'
import type { AuditRepository } from '../../../domain/ports/fleet-repositories.js'
import type { AuditLogTable, Database } from '../schema.js'

const toEntry = (r: Selectable<AuditLogTable>): AuditEntry => ({
  seq: Number(r.seq),
  at: r.at,
  actor: r.actor,
  action: r.action,
  subject: r.subject,
  reason: r.reason,
  before: r.before_state === null ? null : JSON.parse(r.before_state),
  after: r.after_state === null ? null : JSON.parse(r.after_state),
  prevHash: r.prev_hash,
  hash: r.hash,
})

/**
 * Appends read the head and insert head + 1 in the caller's transaction; two writers
 * racing for the same seq collide on the primary key and the loser's transaction is
 * retried by the caller, so the chain never forks. On PostgreSQL the append first takes
 * a transaction-scoped advisory lock, so concurrent audited transactions (a fleet
 * enrolling at once) queue for the chain's head instead of colliding and retrying
 * until the retries run out; SQLite serialises writers already.
 */
const AUDIT_CHAIN_LOCK = 0x5a1e7a0d
export class KyselyAudit implements AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: NewAuditEntry, at: string): Promise<AuditEntry> {
    // hash exactly what is stored: text the database would alter (lone surrogates) or refuse (NUL) never gets a hash
    assertStorableText({ actor: e.actor, action: e.action, subject: e.subject, reason: e.reason, before: e.before, after: e.after })
    if (this.db.getExecutor().adapter instanceof PostgresAdapter) await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(this.db)
    const head = await this.db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
    const base = {
      seq: head ? Number(head.seq) + 1 : 1,
      at,
      actor: e.actor,
      action: e.action,
      subject: e.subject,
      reason: e.reason,
      // stored as JSON text and read back parsed: hash what a verifier will read
      before: e.before === undefined ? null : JSON.parse(JSON.stringify(e.before)),
      after: e.after === undefined ? null : JSON.parse(JSON.stringify(e.after)),
      prevHash: head?.hash ?? GENESIS_HASH,
    }
    const entry: AuditEntry = { ...base, hash: entryHash(base) }
    await this.db
      .insertInto('audit_log')
      .values({
        seq: entry.seq,
        at: entry.at,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject,
        reason: entry.reason,
        before_state: entry.before === null ? null : JSON.stringify(entry.before),
        after_state: entry.after === null ? null : JSON.stringify(entry.after),
        prev_hash: entry.prevHash,
        hash: entry.hash,
      })
      .execute()
    return entry
  }

  async list(q: { after?: number; limit: number; subject?: string }): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_log').selectAll()
    if (q.after !== undefined) query = query.where('seq', '>', q.after)
    if (q.subject !== undefined) query = query.where('subject', '=', q.subject)
    return (await query.orderBy('seq').limit(q.limit).execute()).map(toEntry)
  }
}

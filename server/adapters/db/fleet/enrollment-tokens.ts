import type { Kysely, Selectable } from 'kysely'
import type { EnrollmentToken } from '../../../domain/fleet-model.js'
import type { EnrollmentTokenRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database, EnrollmentTokensTable } from '../schema.js'

const toToken = (r: Selectable<EnrollmentTokensTable>): EnrollmentToken => ({
  id: r.id,
  tokenHash: r.token_hash,
  group: r.group_name,
  maxUses: Number(r.max_uses),
  uses: Number(r.uses),
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  createdBy: r.created_by,
  createdAt: r.created_at,
  requireTpm: Number(r.require_tpm) === 1,
})

export class KyselyEnrollmentTokens implements EnrollmentTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(t: EnrollmentToken): Promise<void> {
    await this.db
      .insertInto('enrollment_tokens')
      .values({
        id: t.id,
        token_hash: t.tokenHash,
        group_name: t.group,
        max_uses: t.maxUses,
        uses: t.uses,
        expires_at: t.expiresAt,
        revoked_at: t.revokedAt,
        created_by: t.createdBy,
        created_at: t.createdAt,
        require_tpm: t.requireTpm ? 1 : 0,
      })
      .execute()
  }

  async findByHash(tokenHash: string): Promise<EnrollmentToken | undefined> {
    const r = await this.db.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
    return r && toToken(r)
  }

  async takeUse(id: string): Promise<boolean> {
    const res = await this.db
      .updateTable('enrollment_tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('id', '=', id)
      .whereRef('uses', '<', 'max_uses')
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async list(): Promise<EnrollmentToken[]> {
    return (await this.db.selectFrom('enrollment_tokens').selectAll().orderBy('created_at').execute()).map(toToken)
  }

  async revoke(id: string, at: string): Promise<boolean> {
    const res = await this.db.updateTable('enrollment_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }
}

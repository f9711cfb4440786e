import type { Kysely } from 'kysely'
import type { ProvenanceField, ReleasePolicy, ReleasePolicyRepository } from '../../domain/releases/provenance-policy.js'
import type { Database } from './schema.js'

export class KyselyReleasePolicies implements ReleasePolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(name: string): Promise<ReleasePolicy | undefined> {
    const r = await this.db.selectFrom('release_policies').selectAll().where('name', '=', name).executeTakeFirst()
    return r && { name: r.name, require: JSON.parse(r.required) as ProvenanceField[], updatedBy: r.updated_by, updatedAt: r.updated_at }
  }

  async upsert(p: ReleasePolicy): Promise<void> {
    const row = { required: JSON.stringify(p.require), updated_by: p.updatedBy ?? '', updated_at: p.updatedAt ?? '' }
    await this.db
      .insertInto('release_policies')
      .values({ name: p.name, ...row })
      .onConflict((oc) => oc.column('name').doUpdateSet(row))
      .execute()
  }
}

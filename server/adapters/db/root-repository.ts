import type { Kysely, Selectable } from 'kysely'
import type { StoredRoot } from '../../domain/model.js'
import type { RootRepository } from '../../domain/ports/repositories.js'
import { isUniqueViolation } from './db-errors.js'
import type { Database, TrustRootsTable } from './schema.js'

const toRoot = (r: Selectable<TrustRootsTable>): StoredRoot => ({
  version: Number(r.version),
  document: r.document,
  sha256: r.sha256,
  createdAt: r.created_at,
})

export class KyselyRootRepository implements RootRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: StoredRoot): Promise<'created' | 'duplicate'> {
    try {
      await this.db
        .insertInto('trust_roots')
        .values({ version: r.version, document: r.document, sha256: r.sha256, created_at: r.createdAt })
        .execute()
      return 'created'
    } catch (e) {
      // two replicas (or an operator and a replica) publishing the same version: the primary key decides
      if (isUniqueViolation(e)) return 'duplicate'
      throw e
    }
  }

  async find(version: number): Promise<StoredRoot | undefined> {
    const row = await this.db.selectFrom('trust_roots').selectAll().where('version', '=', version).executeTakeFirst()
    return row && toRoot(row)
  }

  async latest(): Promise<StoredRoot | undefined> {
    const row = await this.db.selectFrom('trust_roots').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst()
    return row && toRoot(row)
  }

  async list(): Promise<StoredRoot[]> {
    const rows = await this.db.selectFrom('trust_roots').selectAll().orderBy('version').execute()
    return rows.map(toRoot)
  }
}

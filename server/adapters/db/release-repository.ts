import type { Kysely, Selectable } from 'kysely'
import type { Release, ReleaseKind } from '../../domain/model.js'
import type { ReleaseListQuery, ReleaseRepository } from '../../domain/ports/repositories.js'
import { isUniqueViolation } from './db-errors.js'
import type { Database, ReleasesTable } from './schema.js'

const toRelease = (r: Selectable<ReleasesTable>): Release => ({
  id: r.id,
  name: r.name,
  version: r.version,
  kind: r.kind as ReleaseKind,
  hardware: JSON.parse(r.hardware) as string[],
  sha256: r.sha256,
  length: Number(r.length),
  securityVersion: Number(r.security_version),
  provenance: JSON.parse(r.provenance),
  metadata: r.metadata === null ? null : JSON.parse(r.metadata),
  createdBy: r.created_by,
  createdAt: r.created_at,
})

export class KyselyReleaseRepository implements ReleaseRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: Release): Promise<'created' | 'duplicate'> {
    try {
      await this.db
        .insertInto('releases')
        .values({
          id: r.id,
          name: r.name,
          version: r.version,
          kind: r.kind,
          sha256: r.sha256,
          length: r.length,
          security_version: r.securityVersion,
          hardware: JSON.stringify(r.hardware),
          provenance: JSON.stringify(r.provenance),
          metadata: r.metadata === null ? null : JSON.stringify(r.metadata),
          created_by: r.createdBy,
          created_at: r.createdAt,
        })
        .execute()
      return 'created'
    } catch (e) {
      if (isUniqueViolation(e)) return 'duplicate'
      throw e
    }
  }

  async findById(id: string): Promise<Release | undefined> {
    const row = await this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toRelease(row)
  }

  async findByNameVersion(name: string, version: string): Promise<Release | undefined> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst()
    return row && toRelease(row)
  }

  /** Oldest first, keyset-paginated on (created_at, id). */
  async list(q: ReleaseListQuery): Promise<Release[]> {
    let query = this.db.selectFrom('releases').selectAll()
    if (q.name !== undefined) query = query.where('name', '=', q.name)
    if (q.after !== undefined) {
      const cursor = await this.db.selectFrom('releases').select(['created_at', 'id']).where('id', '=', q.after).executeTakeFirst()
      if (cursor)
        query = query.where((eb) =>
          eb.or([
            eb('created_at', '>', cursor.created_at),
            eb.and([eb('created_at', '=', cursor.created_at), eb('id', '>', cursor.id)]),
          ]),
        )
    }
    const rows = await query.orderBy('created_at').orderBy('id').limit(q.limit).execute()
    return rows.map(toRelease)
  }
}

import type { Kysely, Selectable, Updateable } from 'kysely'
import { DELTA_STATES, type DeltaRecord, type DeltaState, type DeltaVariant } from '../../domain/model.js'
import type { DeltaChanges, DeltaListQuery, DeltaRepository } from '../../domain/ports/repositories.js'
import { isUniqueViolation } from './db-errors.js'
import type { Database, DeltasTable } from './schema.js'

type Content = { sourceSha256: string; targetSha256: string }

const num = (v: number | string | null): number | null => (v === null ? null : Number(v))

const toDelta = (r: Selectable<DeltasTable>): DeltaRecord => ({
  id: r.id,
  fromReleaseId: r.from_release_id,
  toReleaseId: r.to_release_id,
  sourceSha256: r.source_sha256,
  targetSha256: r.target_sha256,
  targetLength: Number(r.target_length),
  state: r.state as DeltaState,
  builtBytes: Number(r.built_bytes),
  patchSha256: r.patch_sha256,
  patchLength: num(r.patch_length),
  compressedTargetLength: num(r.compressed_target_length),
  metadata: r.metadata,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  attempts: Number(r.attempts),
  buildMs: num(r.build_ms),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
})

const COLUMNS: { [K in keyof DeltaChanges]-?: keyof DeltasTable } = {
  state: 'state',
  builtBytes: 'built_bytes',
  patchSha256: 'patch_sha256',
  patchLength: 'patch_length',
  compressedTargetLength: 'compressed_target_length',
  metadata: 'metadata',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  attempts: 'attempts',
  buildMs: 'build_ms',
  updatedAt: 'updated_at',
  finishedAt: 'finished_at',
}

function toRow(changes: DeltaChanges): Updateable<DeltasTable> {
  const row: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(changes)) if (value !== undefined) row[COLUMNS[key as keyof DeltaChanges]] = value
  return row as Updateable<DeltasTable>
}

export class KyselyDeltaRepository implements DeltaRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertOrGet(d: DeltaRecord): Promise<{ delta: DeltaRecord; created: boolean }> {
    try {
      await this.db
        .insertInto('deltas')
        .values({
          id: d.id,
          from_release_id: d.fromReleaseId,
          to_release_id: d.toReleaseId,
          source_sha256: d.sourceSha256,
          target_sha256: d.targetSha256,
          target_length: d.targetLength,
          state: d.state,
          built_bytes: d.builtBytes,
          patch_sha256: d.patchSha256,
          patch_length: d.patchLength,
          compressed_target_length: d.compressedTargetLength,
          metadata: d.metadata,
          error_code: d.errorCode,
          error_message: d.errorMessage,
          attempts: d.attempts,
          build_ms: d.buildMs,
          created_at: d.createdAt,
          updated_at: d.updatedAt,
          finished_at: d.finishedAt,
        })
        .execute()
      return { delta: d, created: true }
    } catch (e) {
      // two requests for the same pair at once: the unique (from, to) key decides
      if (!isUniqueViolation(e)) throw e
      const existing = await this.findByReleases(d.fromReleaseId, d.toReleaseId)
      if (!existing) throw e
      return { delta: existing, created: false }
    }
  }

  async findById(id: string): Promise<DeltaRecord | undefined> {
    const row = await this.db.selectFrom('deltas').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toDelta(row)
  }

  async findByReleases(fromReleaseId: string, toReleaseId: string): Promise<DeltaRecord | undefined> {
    const row = await this.db
      .selectFrom('deltas')
      .selectAll()
      .where('from_release_id', '=', fromReleaseId)
      .where('to_release_id', '=', toReleaseId)
      .executeTakeFirst()
    return row && toDelta(row)
  }

  async listByContent(sourceSha256: string, targetSha256: string): Promise<DeltaRecord[]> {
    const rows = await this.db
      .selectFrom('deltas')
      .selectAll()
      .where('source_sha256', '=', sourceSha256)
      .where('target_sha256', '=', targetSha256)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map(toDelta)
  }

  async list(q: DeltaListQuery): Promise<DeltaRecord[]> {
    let query = this.db.selectFrom('deltas').selectAll()
    if (q.state !== undefined) query = query.where('state', '=', q.state)
    if (q.toReleaseId !== undefined) query = query.where('to_release_id', '=', q.toReleaseId)
    if (q.after !== undefined) {
      const cursor = await this.db.selectFrom('deltas').select(['created_at', 'id']).where('id', '=', q.after).executeTakeFirst()
      if (cursor)
        query = query.where((eb) =>
          eb.or([eb('created_at', '>', cursor.created_at), eb.and([eb('created_at', '=', cursor.created_at), eb('id', '>', cursor.id)])]),
        )
    }
    const rows = await query.orderBy('created_at').orderBy('id').limit(q.limit).execute()
    return rows.map(toDelta)
  }

  async transition(content: { sourceSha256: string; targetSha256: string }, from: readonly DeltaState[], changes: DeltaChanges): Promise<number> {
    if (from.length === 0) return 0
    const res = await this.db
      .updateTable('deltas')
      .set(toRow(changes))
      .where('source_sha256', '=', content.sourceSha256)
      .where('target_sha256', '=', content.targetSha256)
      .where('state', 'in', [...from])
      .executeTakeFirst()
    return Number(res.numUpdatedRows)
  }

  async transitionOne(id: string, from: readonly DeltaState[], changes: DeltaChanges): Promise<boolean> {
    if (from.length === 0) return false
    const res = await this.db.updateTable('deltas').set(toRow(changes)).where('id', '=', id).where('state', 'in', [...from]).executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async replaceVariants(content: Content, variants: readonly DeltaVariant[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('delta_variants').where('source_sha256', '=', content.sourceSha256).where('target_sha256', '=', content.targetSha256).execute()
      if (variants.length === 0) return
      await tx
        .insertInto('delta_variants')
        .values(
          variants.map((v) => ({
            source_sha256: content.sourceSha256,
            target_sha256: content.targetSha256,
            format: v.format,
            patch_sha256: v.patchSha256,
            patch_length: v.patchLength,
            metadata: v.metadata,
            created_at: v.updatedAt,
            updated_at: v.updatedAt,
          })),
        )
        .execute()
    })
  }

  async variantsOf(contents: readonly Content[]): Promise<Array<DeltaVariant & Content>> {
    // distinct pairs only; an empty listing asks nothing
    const pairs = [...new Map(contents.map((c) => [`${c.sourceSha256}:${c.targetSha256}`, c])).values()]
    if (pairs.length === 0) return []
    const rows = await this.db
      .selectFrom('delta_variants')
      .selectAll()
      .where((eb) => eb.or(pairs.map((c) => eb.and([eb('source_sha256', '=', c.sourceSha256), eb('target_sha256', '=', c.targetSha256)]))))
      .orderBy('source_sha256')
      .orderBy('target_sha256')
      .orderBy('format')
      .execute()
    return rows.map((r) => ({
      sourceSha256: r.source_sha256,
      targetSha256: r.target_sha256,
      format: r.format,
      patchSha256: r.patch_sha256,
      patchLength: Number(r.patch_length),
      metadata: r.metadata,
      updatedAt: r.updated_at,
    }))
  }

  async updateVariantMetadata(content: Content, format: string, metadata: string, updatedAt: string): Promise<void> {
    await this.db
      .updateTable('delta_variants')
      .set({ metadata, updated_at: updatedAt })
      .where('source_sha256', '=', content.sourceSha256)
      .where('target_sha256', '=', content.targetSha256)
      .where('format', '=', format)
      .execute()
  }

  async summary(): Promise<{ byState: Record<DeltaState, number>; savedBytes: number }> {
    const counts = await this.db
      .selectFrom('deltas')
      .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute()
    const saved = await this.db
      .selectFrom('deltas')
      .select((eb) => eb.fn.sum<number>(eb('target_length', '-', eb.ref('patch_length'))).as('saved'))
      .where('state', '=', 'ready')
      .executeTakeFirst()
    const byState = Object.fromEntries(DELTA_STATES.map((s) => [s, 0])) as Record<DeltaState, number>
    for (const c of counts) byState[c.state as DeltaState] = Number(c.n)
    return { byState, savedBytes: Number(saved?.saved ?? 0) }
  }
}

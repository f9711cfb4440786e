/** The S3 multipart ledger (migration 010): uploads and their parts' ETags. */
import type { Kysely, Selectable } from 'kysely'
import type { MultipartPart, MultipartUpload, MultipartUploadRepository } from '../../domain/ports/repositories.js'
import type { Database, MultipartUploadsTable } from './schema.js'

const toUpload = (r: Selectable<MultipartUploadsTable>): MultipartUpload => ({
  id: r.id,
  objectKey: r.object_key,
  s3UploadId: r.s3_upload_id,
  size: r.size === null ? undefined : Number(r.size),
  partSize: Number(r.part_size),
  partsLength: Number(r.parts_length),
  tailLength: Number(r.tail_length),
  metadata: JSON.parse(r.metadata) as Record<string, string | null>,
  createdAt: r.created_at,
  ...(r.completed_at ? { completedAt: r.completed_at } : {}),
})

export class KyselyMultipartUploadRepository implements MultipartUploadRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(u: MultipartUpload): Promise<void> {
    await this.db
      .insertInto('multipart_uploads')
      .values({
        id: u.id,
        object_key: u.objectKey,
        s3_upload_id: u.s3UploadId,
        size: u.size ?? null,
        part_size: u.partSize,
        parts_length: u.partsLength,
        tail_length: u.tailLength,
        metadata: JSON.stringify(u.metadata),
        created_at: u.createdAt,
        completed_at: u.completedAt ?? null,
      })
      .execute()
  }

  async find(id: string): Promise<MultipartUpload | undefined> {
    const r = await this.db.selectFrom('multipart_uploads').selectAll().where('id', '=', id).executeTakeFirst()
    return r && toUpload(r)
  }

  async parts(id: string): Promise<MultipartPart[]> {
    const rows = await this.db.selectFrom('multipart_upload_parts').selectAll().where('upload_id', '=', id).orderBy('part_number').execute()
    return rows.map((r) => ({ partNumber: Number(r.part_number), etag: r.etag, length: Number(r.length) }))
  }

  async addPart(id: string, part: MultipartPart, fromLength: number, tailLength: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const res = await tx
        .updateTable('multipart_uploads')
        .set({ parts_length: fromLength + part.length, tail_length: tailLength })
        .where('id', '=', id)
        .where('parts_length', '=', fromLength)
        .executeTakeFirst()
      if (Number(res.numUpdatedRows) !== 1) return false
      // a part number uploaded again (after a crash between S3 and here) replaces the old one, as in S3
      await tx.deleteFrom('multipart_upload_parts').where('upload_id', '=', id).where('part_number', '=', part.partNumber).execute()
      await tx.insertInto('multipart_upload_parts').values({ upload_id: id, part_number: part.partNumber, etag: part.etag, length: part.length }).execute()
      return true
    })
  }

  async setTail(id: string, partsLength: number, tailLength: number): Promise<boolean> {
    const res = await this.db
      .updateTable('multipart_uploads')
      .set({ tail_length: tailLength })
      .where('id', '=', id)
      .where('parts_length', '=', partsLength)
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async declareSize(id: string, size: number): Promise<void> {
    await this.db.updateTable('multipart_uploads').set({ size }).where('id', '=', id).where('size', 'is', null).execute()
  }

  async markCompleted(id: string, at: string): Promise<void> {
    await this.db.updateTable('multipart_uploads').set({ completed_at: at }).where('id', '=', id).execute()
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('multipart_upload_parts').where('upload_id', '=', id).execute()
      await tx.deleteFrom('multipart_uploads').where('id', '=', id).execute()
    })
  }

  async createdBefore(at: string, limit: number): Promise<MultipartUpload[]> {
    const rows = await this.db.selectFrom('multipart_uploads').selectAll().where('created_at', '<', at).orderBy('created_at').limit(limit).execute()
    return rows.map(toUpload)
  }
}

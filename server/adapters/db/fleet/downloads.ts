import { sql, type Kysely } from 'kysely'
import type { DownloadRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'

export class KyselyDownloads implements DownloadRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async previousBlob(deviceId: string, sha256: string): Promise<{ sha256: string; length: number } | undefined> {
    const r = await this.db.selectFrom('device_previous_blobs').select(['sha256', 'length']).where('device_id', '=', deviceId).where('sha256', '=', sha256).executeTakeFirst()
    return r && { sha256: r.sha256, length: Number(r.length) }
  }

  async setPrevious(deviceId: string, blobs: Array<{ sha256: string; length: number }>): Promise<void> {
    await this.db.deleteFrom('device_previous_blobs').where('device_id', '=', deviceId).execute()
    const unique = [...new Map(blobs.map((b) => [b.sha256, b])).values()]
    if (unique.length) await this.db.insertInto('device_previous_blobs').values(unique.map((b) => ({ device_id: deviceId, sha256: b.sha256, length: b.length }))).execute()
  }

  async record(r: { id: string; deviceId: string; sha256: string; bytes: number; at: string }): Promise<void> {
    await this.db.insertInto('device_downloads').values({ id: r.id, device_id: r.deviceId, sha256: r.sha256, bytes: r.bytes, at: r.at }).execute()
  }

  async settle(id: string, bytes: number): Promise<void> {
    await this.db.updateTable('device_downloads').set({ bytes }).where('id', '=', id).execute()
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('device_downloads').where('id', '=', id).execute()
  }

  async since(deviceId: string, sha256: string, since: string): Promise<{ bytes: number; oldest: string | undefined }> {
    const r = await this.db
      .selectFrom('device_downloads')
      .select([sql<number>`coalesce(sum(bytes), 0)`.as('bytes'), sql<string | null>`min(at)`.as('oldest')])
      .where('device_id', '=', deviceId)
      .where('sha256', '=', sha256)
      .where('at', '>=', since)
      .executeTakeFirstOrThrow()
    return { bytes: Number(r.bytes), oldest: r.oldest ?? undefined }
  }

  async prune(before: string): Promise<number> {
    const res = await this.db.deleteFrom('device_downloads').where('at', '<', before).executeTakeFirst()
    return Number(res.numDeletedRows)
  }
}

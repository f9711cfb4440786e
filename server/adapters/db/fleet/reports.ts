import type { Kysely } from 'kysely'
import type { ReportRepository } from '../../../domain/fleet/repositories.js'
import type { Database } from '../schema.js'

export class KyselyReports implements ReportRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: { deviceId: string; id: string; seq: number; kind: 'event' | 'health'; rolloutId: string | null; body: string; at: string }): Promise<'created' | 'duplicate'> {
    const res = await this.db
      .insertInto('device_reports')
      .values({ device_id: r.deviceId, report_id: r.id, seq: r.seq, kind: r.kind, rollout_id: r.rolloutId, body: r.body, received_at: r.at })
      .onConflict((oc) => oc.columns(['device_id', 'report_id']).doNothing())
      .executeTakeFirst()
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1 ? 'created' : 'duplicate'
  }
}

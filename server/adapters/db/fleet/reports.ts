import type { Kysely, Selectable } from 'kysely'
import type { ReportRepository, StoredReport } from '../../../domain/ports/fleet-repositories.js'
import type { Database, DeviceReportsTable } from '../schema.js'

const toReport = (r: Selectable<DeviceReportsTable>): StoredReport => ({
  deviceId: r.device_id,
  id: r.report_id,
  seq: Number(r.seq),
  kind: r.kind as StoredReport['kind'],
  rolloutId: r.rollout_id,
  body: JSON.parse(r.body),
  at: r.received_at,
})

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

  async forDevice(deviceId: string, limit: number): Promise<StoredReport[]> {
    const rows = await this.db.selectFrom('device_reports').selectAll().where('device_id', '=', deviceId).orderBy('received_at', 'desc').orderBy('seq', 'desc').limit(limit).execute()
    return rows.map(toReport)
  }
}

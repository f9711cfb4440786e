/** Integrity flags per device and finding (migration 011). */
import type { Kysely } from 'kysely'
import type { IntegrityFlag, IntegrityRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'

export class KyselyIntegrity implements IntegrityRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async flag(deviceId: string, state: IntegrityFlag['state'], r: { at: string; releaseKnown: boolean; report: unknown }): Promise<void> {
    const body = JSON.stringify(r.report)
    const known = r.releaseKnown ? 1 : 0
    await this.db
      .insertInto('device_integrity')
      .values({ device_id: deviceId, state, first_at: r.at, last_at: r.at, reports: 1, release_known: known, last_report: body })
      .onConflict((oc) =>
        oc.columns(['device_id', 'state']).doUpdateSet((eb) => ({
          last_at: r.at,
          reports: eb('device_integrity.reports', '+', 1),
          // once a report named an unknown release, the flag says so until it is cleared
          release_known: known === 0 ? eb.val(0) : eb.ref('device_integrity.release_known'),
          last_report: body,
        })),
      )
      .execute()
  }

  async flags(deviceId: string): Promise<IntegrityFlag[]> {
    const rows = await this.db.selectFrom('device_integrity').selectAll().where('device_id', '=', deviceId).orderBy('state').execute()
    return rows.map((r) => ({
      state: r.state as IntegrityFlag['state'],
      firstAt: r.first_at,
      lastAt: r.last_at,
      reports: Number(r.reports),
      releaseKnown: Number(r.release_known) === 1,
      lastReport: JSON.parse(r.last_report),
    }))
  }

  async clear(deviceId: string): Promise<number> {
    const res = await this.db.deleteFrom('device_integrity').where('device_id', '=', deviceId).executeTakeFirst()
    return Number(res.numDeletedRows)
  }
}

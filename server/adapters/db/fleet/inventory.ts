import { sql, type Kysely } from 'kysely'
import type { Breakdown, DeviceInventoryRepository, DeviceListQuery, FleetOverview } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'
import { filterDevices } from './device-filter.js'

const toBreakdown = (rows: Array<{ key: string | null; n: number | string | bigint }>): Breakdown =>
  rows.map((r) => ({ key: r.key ?? '(none)', devices: Number(r.n) }))

export class KyselyInventory implements DeviceInventoryRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async touch(deviceId: string, at: string, notBefore: string): Promise<boolean> {
    const res = await this.db
      .updateTable('devices')
      .set({ last_seen_at: at })
      .where('id', '=', deviceId)
      .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', notBefore)]))
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async setLabels(deviceId: string, group: string, tags: string[], at: string): Promise<void> {
    await this.db.updateTable('devices').set({ group_name: group, tags: JSON.stringify(tags), updated_at: at }).where('id', '=', deviceId).execute()
  }

  async count(q: Omit<DeviceListQuery, 'limit' | 'after'>): Promise<number> {
    const r = await filterDevices(this.db.selectFrom('devices').select(sql<number>`count(*)`.as('n')), q).executeTakeFirstOrThrow()
    return Number(r.n)
  }

  private async by(column: 'last_state' | 'hardware' | 'group_name'): Promise<Breakdown> {
    const rows = await this.db
      .selectFrom('devices')
      .select([sql<string | null>`${sql.ref(column)}`.as('key'), sql<number>`count(*)`.as('n')])
      .groupBy(column)
      .orderBy('n', 'desc')
      .limit(50)
      .execute()
    return toBreakdown(rows)
  }

  async overview(notSeenSince: string): Promise<FleetOverview> {
    const total = Number((await this.db.selectFrom('devices').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n)
    const versions = await this.db
      .selectFrom('device_installed')
      .select([sql<string>`name || '@' || version`.as('key'), sql<number>`count(*)`.as('n')])
      .groupBy(['name', 'version'])
      .orderBy('n', 'desc')
      .limit(50)
      .execute()
    return {
      total,
      byState: await this.by('last_state'),
      byHardware: await this.by('hardware'),
      byGroup: await this.by('group_name'),
      byVersion: toBreakdown(versions),
      notSeen: await this.count({ seenBefore: notSeenSince }),
      quarantined: Number((await this.db.selectFrom('devices').select(sql<number>`count(*)`.as('n')).where('quarantined_at', 'is not', null).executeTakeFirstOrThrow()).n),
    }
  }
}

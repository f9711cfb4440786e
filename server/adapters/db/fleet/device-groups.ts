import type { Kysely, Selectable } from 'kysely'
import type { DeviceGroup } from '../../../domain/fleet-model.js'
import type { DeviceGroupRepository, ReservationRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database, DeviceGroupsTable } from '../schema.js'

const toGroup = (r: Selectable<DeviceGroupsTable>): DeviceGroup => ({
  name: r.name,
  selector: JSON.parse(r.selector),
  description: r.description,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export class KyselyDeviceGroups implements DeviceGroupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async upsert(g: DeviceGroup): Promise<void> {
    const selector = JSON.stringify(g.selector)
    await this.db
      .insertInto('device_groups')
      .values({ name: g.name, selector, description: g.description, created_by: g.createdBy, created_at: g.createdAt, updated_at: g.updatedAt })
      .onConflict((oc) => oc.column('name').doUpdateSet({ selector, description: g.description, updated_at: g.updatedAt }))
      .execute()
  }

  async find(name: string): Promise<DeviceGroup | undefined> {
    const r = await this.db.selectFrom('device_groups').selectAll().where('name', '=', name).executeTakeFirst()
    return r && toGroup(r)
  }

  async list(): Promise<DeviceGroup[]> {
    return (await this.db.selectFrom('device_groups').selectAll().orderBy('name').execute()).map(toGroup)
  }

  async remove(name: string): Promise<boolean> {
    const res = await this.db.deleteFrom('device_groups').where('name', '=', name).executeTakeFirst()
    return Number(res.numDeletedRows) === 1
  }
}

export class KyselyReservations implements ReservationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async reserve(r: { id: string; createdBy: string; createdAt: string; expiresAt: string }): Promise<void> {
    // expired reservations are dropped as new ones come in (no sweeper needed)
    await this.db.deleteFrom('rollout_reservations').where('expires_at', '<', r.createdAt).execute()
    await this.db.insertInto('rollout_reservations').values({ id: r.id, created_by: r.createdBy, created_at: r.createdAt, expires_at: r.expiresAt }).execute()
  }

  async take(id: string, now: string): Promise<boolean> {
    const res = await this.db.deleteFrom('rollout_reservations').where('id', '=', id).where('expires_at', '>', now).executeTakeFirst()
    return Number(res.numDeletedRows) === 1
  }

  async exists(id: string, now: string): Promise<boolean> {
    return !!(await this.db.selectFrom('rollout_reservations').select('id').where('id', '=', id).where('expires_at', '>', now).executeTakeFirst())
  }
}

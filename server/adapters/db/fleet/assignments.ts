import type { Kysely, Selectable } from 'kysely'
import type { StoredAssignment } from '../../../domain/fleet-model.js'
import type { AssignmentRepository } from '../../../domain/ports/fleet-repositories.js'
import { isUniqueViolation } from '../db-errors.js'
import type { Database, DeviceAssignmentsTable } from '../schema.js'

export const toAssignment = (r: Selectable<DeviceAssignmentsTable>): StoredAssignment => ({
  deviceId: r.device_id,
  counter: Number(r.counter),
  rolloutId: r.rollout_id,
  releaseId: r.release_id,
  action: r.action as StoredAssignment['action'],
  body: r.body,
  etag: r.etag,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  withdrawnAt: r.withdrawn_at ?? null,
})

export class KyselyAssignments implements AssignmentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(deviceId: string): Promise<StoredAssignment | undefined> {
    const r = await this.db.selectFrom('device_assignments').selectAll().where('device_id', '=', deviceId).executeTakeFirst()
    return r && toAssignment(r)
  }

  async replace(a: StoredAssignment, previousCounter: number | undefined): Promise<boolean> {
    const row = {
      counter: a.counter,
      rollout_id: a.rolloutId,
      release_id: a.releaseId,
      action: a.action,
      body: a.body,
      etag: a.etag,
      expires_at: a.expiresAt,
      created_at: a.createdAt,
      withdrawn_at: null,
    }
    if (previousCounter === undefined) {
      try {
        await this.db.insertInto('device_assignments').values({ device_id: a.deviceId, ...row }).execute()
        return true
      } catch (e) {
        if (isUniqueViolation(e)) return false
        throw e
      }
    }
    const res = await this.db.updateTable('device_assignments').set(row).where('device_id', '=', a.deviceId).where('counter', '=', previousCounter).executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async withdraw(deviceId: string, at: string): Promise<boolean> {
    const res = await this.db.updateTable('device_assignments').set({ withdrawn_at: at }).where('device_id', '=', deviceId).where('withdrawn_at', 'is', null).executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async remove(deviceId: string): Promise<void> {
    await this.db.deleteFrom('device_assignments').where('device_id', '=', deviceId).execute()
  }
}

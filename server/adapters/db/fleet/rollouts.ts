import type { Kysely, Selectable } from 'kysely'
import type { BreachAction, Rollout, RolloutState } from '../../../domain/fleet-model.js'
import type { RolloutListQuery, RolloutRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database, RolloutsTable } from '../schema.js'

const toRollout = (r: Selectable<RolloutsTable>): Rollout => ({
  id: r.id,
  releaseId: r.release_id,
  selector: JSON.parse(r.selector),
  phases: JSON.parse(r.phases),
  gate: JSON.parse(r.gate),
  breachAction: r.breach_action as BreachAction,
  state: r.state as RolloutState,
  phase: Number(r.phase),
  phaseStartedAt: r.phase_started_at,
  stateReason: r.state_reason,
  version: Number(r.version),
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

const mutable = (r: Rollout) => ({
  state: r.state,
  phase: r.phase,
  phase_started_at: r.phaseStartedAt,
  state_reason: r.stateReason,
  version: r.version,
  updated_at: r.updatedAt,
})

export class KyselyRollouts implements RolloutRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: Rollout): Promise<void> {
    await this.db
      .insertInto('rollouts')
      .values({
        id: r.id,
        release_id: r.releaseId,
        selector: JSON.stringify(r.selector),
        phases: JSON.stringify(r.phases),
        gate: JSON.stringify(r.gate),
        breach_action: r.breachAction,
        created_by: r.createdBy,
        created_at: r.createdAt,
        ...mutable(r),
      })
      .execute()
  }

  async findById(id: string): Promise<Rollout | undefined> {
    const r = await this.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst()
    return r && toRollout(r)
  }

  async list(q: RolloutListQuery): Promise<Rollout[]> {
    let query = this.db.selectFrom('rollouts').selectAll()
    if (q.state !== undefined) query = query.where('state', '=', q.state)
    if (q.after !== undefined) {
      const cursor = await this.db.selectFrom('rollouts').select(['created_at', 'id']).where('id', '=', q.after).executeTakeFirst()
      if (cursor)
        query = query.where((eb) => eb.or([eb('created_at', '<', cursor.created_at), eb.and([eb('created_at', '=', cursor.created_at), eb('id', '<', cursor.id)])]))
    }
    // newest first, keyset-paginated on (created_at, id)
    return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute()).map(toRollout)
  }

  async live(): Promise<Rollout[]> {
    const rows = await this.db.selectFrom('rollouts').selectAll().where('state', 'in', ['running', 'paused']).orderBy('created_at', 'desc').orderBy('id', 'desc').execute()
    return rows.map(toRollout)
  }

  async offering(completedLimit: number): Promise<Rollout[]> {
    const live = await this.live()
    const done = await this.db.selectFrom('rollouts').selectAll().where('state', '=', 'completed').orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(completedLimit).execute()
    return [...live, ...done.map(toRollout)].sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)))
  }

  async compareAndSet(next: Rollout): Promise<boolean> {
    const res = await this.db
      .updateTable('rollouts')
      .set(mutable(next))
      .where('id', '=', next.id)
      .where('version', '=', next.version - 1)
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }
}

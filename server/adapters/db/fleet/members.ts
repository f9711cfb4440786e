import { sql, type Kysely, type Selectable } from 'kysely'
import type { MemberCounts, RolloutMember } from '../../../domain/fleet-model.js'
import type { MemberRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database, RolloutDevicesTable } from '../schema.js'

const toMember = (r: Selectable<RolloutDevicesTable>): RolloutMember => ({
  rolloutId: r.rollout_id,
  deviceId: r.device_id,
  phase: Number(r.phase),
  previous:
    r.previous_version === null
      ? null
      : { name: '', version: r.previous_version, sha256: r.previous_sha256 ?? '', securityVersion: Number(r.previous_security_version ?? 0) },
  state: r.state as RolloutMember['state'],
  stateSeq: Number(r.state_seq),
  reason: r.reason === null ? null : JSON.parse(r.reason),
  healthOk: r.health_ok === null ? null : Number(r.health_ok) === 1,
  metrics: r.metrics === null ? null : JSON.parse(r.metrics),
  reverted: Number(r.reverted) === 1,
  assignedAt: r.assigned_at,
  reportedAt: r.reported_at,
  withdrawnAt: r.withdrawn_at ?? null,
})

const FAILED = ['failed', 'rolled-back']

export class KyselyMembers implements MemberRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(m: RolloutMember): Promise<'created' | 'duplicate'> {
    const res = await this.db
      .insertInto('rollout_devices')
      .values({
        rollout_id: m.rolloutId,
        device_id: m.deviceId,
        phase: m.phase,
        previous_version: m.previous?.version ?? null,
        previous_sha256: m.previous?.sha256 ?? null,
        previous_security_version: m.previous?.securityVersion ?? null,
        state: m.state,
        state_seq: m.stateSeq,
        reason: m.reason === null ? null : JSON.stringify(m.reason),
        health_ok: m.healthOk === null ? null : m.healthOk ? 1 : 0,
        metrics: m.metrics === null ? null : JSON.stringify(m.metrics),
        reverted: m.reverted ? 1 : 0,
        assigned_at: m.assignedAt,
        reported_at: m.reportedAt,
      })
      .onConflict((oc) => oc.columns(['rollout_id', 'device_id']).doNothing())
      .executeTakeFirst()
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1 ? 'created' : 'duplicate'
  }

  async find(rolloutId: string, deviceId: string): Promise<RolloutMember | undefined> {
    const r = await this.db.selectFrom('rollout_devices').selectAll().where('rollout_id', '=', rolloutId).where('device_id', '=', deviceId).executeTakeFirst()
    return r && toMember(r)
  }

  async report(rolloutId: string, deviceId: string, r: { seq: number; state: RolloutMember['state']; reason: RolloutMember['reason']; at: string }): Promise<boolean> {
    const res = await this.db
      .updateTable('rollout_devices')
      .set({ state: r.state, state_seq: r.seq, reason: r.reason === null ? null : JSON.stringify(r.reason), reported_at: r.at })
      .where('rollout_id', '=', rolloutId)
      .where('device_id', '=', deviceId)
      .where('state_seq', '<', r.seq)
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async health(rolloutId: string, deviceId: string, h: { seq: number; ok: boolean; metrics: Record<string, number>; at: string }): Promise<boolean> {
    const res = await this.db
      .updateTable('rollout_devices')
      .set({ health_ok: h.ok ? 1 : 0, metrics: JSON.stringify(h.metrics), reported_at: h.at, health_seq: h.seq })
      .where('rollout_id', '=', rolloutId)
      .where('device_id', '=', deviceId)
      .where((eb) => eb.or([eb('health_seq', 'is', null), eb('health_seq', '<', h.seq)]))
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async markReverted(rolloutId: string, deviceId: string, at: string): Promise<void> {
    await this.db.updateTable('rollout_devices').set({ reverted: 1, reported_at: at }).where('rollout_id', '=', rolloutId).where('device_id', '=', deviceId).execute()
  }

  async counts(rolloutId: string, silentBefore: string): Promise<Map<number, MemberCounts>> {
    const failed = sql<number>`sum(case when state in (${sql.join(FAILED)}) or health_ok = 0 then 1 else 0 end)`
    const healthy = sql<number>`sum(case when state = 'succeeded' and (health_ok is null or health_ok = 1) then 1 else 0 end)`
    const pendingCond = sql`state not in ('succeeded', ${sql.join(FAILED)}) and (health_ok is null or health_ok = 1)`
    const silent = sql<number>`sum(case when ${pendingCond} and assigned_at < ${silentBefore} then 1 else 0 end)`
    const pending = sql<number>`sum(case when ${pendingCond} then 1 else 0 end)`
    const rows = await this.db
      .selectFrom('rollout_devices')
      .select(['phase', sql<number>`count(*)`.as('assigned'), failed.as('failed'), healthy.as('healthy'), silent.as('silent'), pending.as('pending'), sql<number>`sum(reverted)`.as('reverted')])
      .where('rollout_id', '=', rolloutId)
      // a quarantined or decommissioned device is neither failed nor healthy
      .where('withdrawn_at', 'is', null)
      .groupBy('phase')
      .execute()
    const per = new Map<number, MemberCounts>()
    for (const r of rows) {
      const silentN = Number(r.silent)
      per.set(Number(r.phase), {
        assigned: Number(r.assigned),
        healthy: Number(r.healthy),
        failed: Number(r.failed) + silentN,
        silent: silentN,
        pending: Number(r.pending) - silentN,
        reverted: Number(r.reverted),
      })
    }
    return per
  }

  async metricValues(rolloutId: string, metric: string): Promise<number[]> {
    const rows = await this.db.selectFrom('rollout_devices').select('metrics').where('rollout_id', '=', rolloutId).where('metrics', 'is not', null).where('withdrawn_at', 'is', null).execute()
    return rows.map((r) => (JSON.parse(r.metrics!) as Record<string, unknown>)[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  }

  async withdraw(deviceId: string, at: string): Promise<number> {
    const res = await this.db.updateTable('rollout_devices').set({ withdrawn_at: at }).where('device_id', '=', deviceId).where('withdrawn_at', 'is', null).executeTakeFirst()
    return Number(res.numUpdatedRows)
  }

  async decidedTimeline(rolloutId: string): Promise<Array<{ at: string; failed: boolean }>> {
    const failed = sql<number>`case when state in (${sql.join(FAILED)}) or health_ok = 0 then 1 else 0 end`
    const rows = await this.db
      .selectFrom('rollout_devices')
      .select(['reported_at', failed.as('failed')])
      .where('rollout_id', '=', rolloutId)
      .where('reported_at', 'is not', null)
      .where((eb) => eb.or([eb('state', 'in', ['succeeded', ...FAILED]), eb('health_ok', '=', 0)]))
      .orderBy('reported_at')
      .execute()
    return rows.map((r) => ({ at: r.reported_at!, failed: Number(r.failed) === 1 }))
  }

  async forDevice(deviceId: string): Promise<RolloutMember[]> {
    return (await this.db.selectFrom('rollout_devices').selectAll().where('device_id', '=', deviceId).orderBy('assigned_at', 'desc').execute()).map(toMember)
  }

  async previousSecurityVersionsBelow(rolloutId: string, sv: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('rollout_devices')
      .select('previous_version')
      .distinct()
      .where('rollout_id', '=', rolloutId)
      .where('previous_security_version', '<', sv)
      .execute()
    return rows.map((r) => r.previous_version!).sort()
  }
}

import { CompiledQuery, sql, type Kysely, type Selectable } from 'kysely'
import type { Device, DevicePollContext, DeviceSecurityEvent, DeviceWithInstalled, DownloadProgress, InstalledRelease, InstallMode } from '../../../domain/fleet-model.js'
import type { InventoryFacts } from '../../../domain/devices/inventory.js'
import { toAssignment } from './assignments.js'
import { filterDevices } from './device-filter.js'
import type { DeviceListQuery, DeviceRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database, DeviceInstalledTable, DevicesTable } from '../schema.js'

export const toDevice = (r: Selectable<DevicesTable>): Device => ({
  id: r.id,
  hardwareId: r.hardware_id,
  hardware: r.hardware,
  group: r.group_name,
  tags: JSON.parse(r.tags) as string[],
  credentialHash: r.credential_hash,
  lastSeq: Number(r.last_seq),
  lastState: r.last_state,
  lastReportAt: r.last_report_at,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  quarantinedAt: r.quarantined_at ?? null,
  quarantineReason: r.quarantine_reason ?? null,
  decommissionedAt: r.decommissioned_at ?? null,
  ...(r.inventory ? { inventory: JSON.parse(r.inventory) as InventoryFacts } : {}),
  keyTpmResident: Number(r.key_tpm_resident) === 1,
})

const toInstalled = (r: Pick<Selectable<DeviceInstalledTable>, 'name' | 'version' | 'sha256' | 'security_version' | 'install_mode'>): InstalledRelease => ({
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  securityVersion: Number(r.security_version),
  ...(r.install_mode ? { installMode: r.install_mode as InstallMode } : {}),
})

const deviceRow = (d: Device) => ({
  id: d.id,
  hardware_id: d.hardwareId,
  hardware: d.hardware,
  group_name: d.group,
  tags: JSON.stringify(d.tags),
  credential_hash: d.credentialHash,
  last_seq: d.lastSeq,
  last_state: d.lastState,
  last_report_at: d.lastReportAt,
  last_seen_at: d.lastSeenAt,
  created_at: d.createdAt,
  updated_at: d.updatedAt,
})

/** A devices row joined with its assignment's columns (a_created_at: the assignment's created_at). */
export type PollContextRow = Selectable<DevicesTable> & {
  counter: number | null
  rollout_id: string | null
  release_id: string | null
  action: string | null
  body: string | null
  etag: string | null
  expires_at: string | null
  a_created_at: string | null
  withdrawn_at: string | null
}

export function toPollContext(r: PollContextRow): DevicePollContext {
  const assignment =
    r.counter === null
      ? undefined
      : toAssignment({ device_id: r.id, counter: r.counter, rollout_id: r.rollout_id!, release_id: r.release_id!, action: r.action!, body: r.body!, etag: r.etag!, expires_at: r.expires_at!, created_at: r.a_created_at!, withdrawn_at: r.withdrawn_at })
  return { ...toDevice(r), installed: JSON.parse(r.installed) as InstalledRelease[], assignment }
}

export class KyselyDevices implements DeviceRepository {
  /**
   * The poll's one query, compiled once: building and compiling this join through
   * Kysely's query builder cost more than SQLite running it (71 µs against ~15 µs).
   */
  private readonly pollContextSql: string

  constructor(private readonly db: Kysely<Database>) {
    this.pollContextSql = this.pollContextQuery('').compile().sql
  }

  private pollContextQuery(hash: string) {
    return this.db
      .selectFrom('devices')
      .leftJoin('device_assignments as a', 'a.device_id', 'devices.id')
      .selectAll('devices')
      .select(['a.counter', 'a.rollout_id', 'a.release_id', 'a.action', 'a.body', 'a.etag', 'a.expires_at', 'a.created_at as a_created_at', 'a.withdrawn_at'])
      .where('devices.credential_hash', '=', hash)
  }

  async findByHardwareId(hardwareId: string): Promise<Device | undefined> {
    const r = await this.db.selectFrom('devices').selectAll().where('hardware_id', '=', hardwareId).executeTakeFirst()
    return r && toDevice(r)
  }

  async insert(d: Device): Promise<void> {
    await this.db.insertInto('devices').values({ ...deviceRow(d), installed: '[]' }).execute()
  }

  async update(d: Device): Promise<void> {
    const { id: _id, created_at: _c, ...rest } = deviceRow(d)
    await this.db.updateTable('devices').set(rest).where('id', '=', d.id).execute()
  }

  async findByCredentialHash(hash: string): Promise<DevicePollContext | undefined> {
    type Row = Awaited<ReturnType<ReturnType<KyselyDevices['pollContextQuery']>['executeTakeFirst']>>
    const r = (await this.db.executeQuery<NonNullable<Row>>(CompiledQuery.raw(this.pollContextSql, [hash]))).rows[0]
    return r && toPollContext(r)
  }

  async setKeyTpmResident(deviceId: string, resident: boolean): Promise<void> {
    await this.db.updateTable('devices').set({ key_tpm_resident: resident ? 1 : 0 }).where('id', '=', deviceId).execute()
  }

  async findById(id: string): Promise<DeviceWithInstalled | undefined> {
    const r = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst()
    return r && { ...toDevice(r), installed: await this.installed(id) }
  }

  async installed(deviceId: string): Promise<InstalledRelease[]> {
    const rows = await this.db.selectFrom('device_installed').select(['name', 'version', 'sha256', 'security_version', 'install_mode']).where('device_id', '=', deviceId).orderBy('name').execute()
    return rows.map(toInstalled)
  }

  async replaceInstalled(deviceId: string, installed: InstalledRelease[], at: string): Promise<void> {
    await this.db.deleteFrom('device_installed').where('device_id', '=', deviceId).execute()
    for (const r of installed) await this.upsertInstalled(deviceId, r, at)
    await this.copyInstalled(deviceId)
  }

  async setInstalled(deviceId: string, r: InstalledRelease, at: string): Promise<void> {
    await this.upsertInstalled(deviceId, r, at)
    await this.copyInstalled(deviceId)
  }

  private async upsertInstalled(deviceId: string, r: InstalledRelease, at: string): Promise<void> {
    await this.db
      .insertInto('device_installed')
      .values({ device_id: deviceId, name: r.name, version: r.version, sha256: r.sha256, security_version: r.securityVersion, updated_at: at, install_mode: r.installMode ?? null })
      .onConflict((oc) =>
        oc.columns(['device_id', 'name']).doUpdateSet({ version: r.version, sha256: r.sha256, security_version: r.securityVersion, updated_at: at, install_mode: r.installMode ?? null }),
      )
      .execute()
  }

  /** devices.installed mirrors device_installed (callers run both in one transaction). */
  private async copyInstalled(deviceId: string): Promise<void> {
    await this.db.updateTable('devices').set({ installed: JSON.stringify(await this.installed(deviceId)) }).where('id', '=', deviceId).execute()
  }

  async advance(deviceId: string, seq: number, state: string | null, at: string): Promise<boolean> {
    const res = await this.db
      .updateTable('devices')
      .set({ last_seq: seq, ...(state !== null && { last_state: state }), last_report_at: at, last_seen_at: at })
      .where('id', '=', deviceId)
      .where('last_seq', '<', seq)
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) === 1) return true
    await this.db.updateTable('devices').set({ last_report_at: at, last_seen_at: at }).where('id', '=', deviceId).execute()
    return false
  }

  private async withInstalled(rows: Selectable<DevicesTable>[]): Promise<DeviceWithInstalled[]> {
    if (!rows.length) return []
    const inst = await this.db
      .selectFrom('device_installed')
      .select(['device_id', 'name', 'version', 'sha256', 'security_version', 'install_mode'])
      .where('device_id', 'in', rows.map((r) => r.id))
      .execute()
    const by = new Map<string, InstalledRelease[]>()
    for (const i of inst) {
      const list = by.get(i.device_id) ?? []
      list.push(toInstalled(i))
      by.set(i.device_id, list)
    }
    return rows.map((r) => ({ ...toDevice(r), installed: by.get(r.id) ?? [] }))
  }

  async list(q: DeviceListQuery): Promise<DeviceWithInstalled[]> {
    let query = filterDevices(this.db.selectFrom('devices').selectAll('devices'), q)
    if (q.after !== undefined) query = query.where('devices.id', '>', q.after)
    return this.withInstalled(await query.orderBy('devices.id').limit(q.limit).execute())
  }

  async setQuarantine(id: string, q: { at: string; reason: string } | null): Promise<boolean> {
    const res = await this.db
      .updateTable('devices')
      .set({ quarantined_at: q?.at ?? null, quarantine_reason: q?.reason ?? null })
      .where('id', '=', id)
      .where('quarantined_at', q ? 'is' : 'is not', null)
      .executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }

  async setCredentialHash(id: string, credentialHash: string, at: string): Promise<void> {
    await this.db.updateTable('devices').set({ credential_hash: credentialHash, updated_at: at }).where('id', '=', id).execute()
  }

  async decommission(id: string, at: string): Promise<void> {
    // the unique hardware id and credential columns get values no enrollment or request can produce
    await this.db
      .updateTable('devices')
      .set({ decommissioned_at: at, hardware_id: `decommissioned:${id}`, credential_hash: `decommissioned:${id}`, quarantined_at: null, quarantine_reason: null, updated_at: at })
      .where('id', '=', id)
      .execute()
  }

  async page(filter: { hardware?: string[]; group?: string }, after: string | undefined, limit: number): Promise<DeviceWithInstalled[]> {
    // quarantined and decommissioned devices are no rollout's audience
    let query = this.db.selectFrom('devices').selectAll().where('quarantined_at', 'is', null).where('decommissioned_at', 'is', null)
    if (filter.hardware) query = query.where('hardware', 'in', filter.hardware.length ? filter.hardware : [''])
    if (filter.group !== undefined) query = query.where('group_name', '=', filter.group)
    if (after !== undefined) query = query.where('id', '>', after)
    return this.withInstalled(await query.orderBy('id').limit(limit).execute())
  }

  async topInstalled(name: string, hardware: string[], limit: number): Promise<Array<{ version: string; sha256: string; devices: number }>> {
    if (!hardware.length) return []
    const rows = await this.db
      .selectFrom('device_installed')
      .innerJoin('devices', 'devices.id', 'device_installed.device_id')
      .select(['device_installed.version', 'device_installed.sha256', sql<number>`count(*)`.as('n')])
      .where('device_installed.name', '=', name)
      .where('devices.hardware', 'in', hardware)
      .groupBy(['device_installed.version', 'device_installed.sha256'])
      .orderBy('n', 'desc')
      .limit(limit)
      .execute()
    return rows.map((r) => ({ version: r.version, sha256: r.sha256, devices: Number(r.n) }))
  }

  async saveHealth(deviceId: string, name: string, version: string, metrics: Record<string, number>, at: string, seq: number): Promise<void> {
    const m = JSON.stringify(metrics)
    await this.db
      .insertInto('device_health')
      .values({ device_id: deviceId, name, version, metrics: m, at, seq })
      .onConflict((oc) =>
        oc
          .columns(['device_id', 'name'])
          .doUpdateSet({ version, metrics: m, at, seq })
          .where((eb) => eb.or([eb('device_health.seq', 'is', null), eb('device_health.seq', '<', seq)])),
      )
      .execute()
  }

  async metricValues(name: string, exceptVersion: string, metric: string, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('device_health')
      .select('metrics')
      .where('name', '=', name)
      .where('version', '!=', exceptVersion)
      .orderBy('at', 'desc')
      .limit(limit)
      .execute()
    return rows.map((r) => (JSON.parse(r.metrics) as Record<string, unknown>)[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  }

  async saveProgress(deviceId: string, p: DownloadProgress): Promise<void> {
    const row = { name: p.name, version: p.version, bytes: p.bytes, total: p.total, at: p.at }
    await this.db
      .insertInto('device_progress')
      .values({ device_id: deviceId, ...row })
      .onConflict((oc) => oc.column('device_id').doUpdateSet(row))
      .execute()
  }

  async progress(deviceId: string): Promise<DownloadProgress | undefined> {
    const r = await this.db.selectFrom('device_progress').selectAll().where('device_id', '=', deviceId).executeTakeFirst()
    return r && { name: r.name, version: r.version, bytes: Number(r.bytes), total: Number(r.total), at: r.at }
  }

  async addSecurityEvent(deviceId: string, e: DeviceSecurityEvent): Promise<'created' | 'duplicate'> {
    const res = await this.db
      .insertInto('device_security_events')
      .values({ device_id: deviceId, report_id: e.id, seq: e.seq, kind: e.kind, code: e.code, body: JSON.stringify(e), received_at: e.receivedAt })
      .onConflict((oc) => oc.columns(['device_id', 'report_id']).doNothing())
      .executeTakeFirst()
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1 ? 'created' : 'duplicate'
  }

  async securityEvents(deviceId: string, limit: number): Promise<DeviceSecurityEvent[]> {
    const rows = await this.db.selectFrom('device_security_events').select('body').where('device_id', '=', deviceId).orderBy('seq', 'desc').limit(limit).execute()
    return rows.map((r) => JSON.parse(r.body) as DeviceSecurityEvent)
  }
}

/** The latest inventory per device, its history, its models and its package list (migration 011). */
import type { Kysely } from 'kysely'
import type { InventoryPackage, StoredInventory } from '../../../domain/devices/inventory.js'
import type { InventoryRepository } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'

/** Rows per multi-row insert: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500

export class KyselyInventoryReports implements InventoryRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(deviceId: string): Promise<StoredInventory | undefined> {
    const r = await this.db.selectFrom('device_inventory').selectAll().where('device_id', '=', deviceId).executeTakeFirst()
    const d = r && (await this.db.selectFrom('devices').select('inventory').where('id', '=', deviceId).executeTakeFirst())
    if (!r) return undefined
    return {
      digest: r.digest,
      facts: d?.inventory ? JSON.parse(d.inventory) : { models: [] },
      report: JSON.parse(r.body),
      packagesListDigest: r.packages_list_digest,
      reportedAt: r.reported_at,
      changedAt: r.changed_at,
    }
  }

  async save(deviceId: string, inv: StoredInventory, changed: boolean): Promise<void> {
    const f = inv.facts
    const row = {
      digest: inv.digest,
      os: f.os ?? null,
      kernel: f.kernel ?? null,
      agent_version: f.agentVersion ?? null,
      bootloader: f.bootloader ?? null,
      tpm: f.tpm === undefined ? null : f.tpm ? 1 : 0,
      packages_digest: inv.report.packages?.digest ?? null,
      packages_list_digest: inv.packagesListDigest,
      body: JSON.stringify(inv.report),
      reported_at: inv.reportedAt,
      changed_at: inv.changedAt,
    }
    await this.db
      .insertInto('device_inventory')
      .values({ device_id: deviceId, ...row })
      .onConflict((oc) => oc.column('device_id').doUpdateSet(row))
      .execute()
    if (!changed) return
    await this.db
      .insertInto('device_inventory_history')
      .values({ device_id: deviceId, digest: inv.digest, body: row.body, changed_at: inv.changedAt })
      .onConflict((oc) => oc.columns(['device_id', 'changed_at', 'digest']).doNothing())
      .execute()
    await this.db.deleteFrom('device_inventory_models').where('device_id', '=', deviceId).execute()
    const models = inv.report.models.map((m) => ({ device_id: deviceId, name: m.name, version: m.version, sha256: m.sha256 }))
    if (models.length) await this.db.insertInto('device_inventory_models').values(models).onConflict((oc) => oc.columns(['device_id', 'name']).doNothing()).execute()
    await this.db.updateTable('devices').set({ inventory: JSON.stringify(f) }).where('id', '=', deviceId).execute()
  }

  async replacePackages(deviceId: string, digest: string, list: InventoryPackage[]): Promise<void> {
    await this.db.deleteFrom('device_packages').where('device_id', '=', deviceId).execute()
    const unique = [...new Map(list.map((p) => [`${p.name}\t${p.version}`, p])).values()]
    for (let i = 0; i < unique.length; i += CHUNK)
      await this.db
        .insertInto('device_packages')
        .values(unique.slice(i, i + CHUNK).map((p) => ({ device_id: deviceId, name: p.name, version: p.version })))
        .execute()
    await this.db.updateTable('device_inventory').set({ packages_list_digest: digest }).where('device_id', '=', deviceId).execute()
  }

  async history(deviceId: string, limit: number): Promise<Array<{ digest: string; changedAt: string; report: unknown }>> {
    const rows = await this.db
      .selectFrom('device_inventory_history')
      .select(['digest', 'changed_at', 'body'])
      .where('device_id', '=', deviceId)
      .orderBy('changed_at', 'desc')
      .limit(limit)
      .execute()
    return rows.map((r) => ({ digest: r.digest, changedAt: r.changed_at, report: JSON.parse(r.body) }))
  }

  async packageHolders(name: string): Promise<Array<{ deviceId: string; version: string }>> {
    const rows = await this.db.selectFrom('device_packages').select(['device_id', 'version']).where('name', '=', name).orderBy('device_id').execute()
    return rows.map((r) => ({ deviceId: r.device_id, version: r.version }))
  }
}

/** The WHERE clause of a device list query, shared by the page and its count. */
import { sql, type SelectQueryBuilder } from 'kysely'
import type { InventorySelector } from '../../../domain/devices/inventory.js'
import type { DeviceListQuery } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'
import { filterByProvenance } from './provenance-filter.js'

/** LIKE wildcards in user text match themselves (escape character `\`). */
const literal = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

export function filterDevices<O>(
  query: SelectQueryBuilder<Database, 'devices', O>,
  q: Omit<DeviceListQuery, 'limit' | 'after'>,
): SelectQueryBuilder<Database, 'devices', O> {
  if (q.group !== undefined) query = query.where('devices.group_name', '=', q.group)
  if (q.hardware !== undefined) query = query.where('devices.hardware', '=', q.hardware)
  if (q.state !== undefined) query = query.where('devices.last_state', '=', q.state)
  // tags are a JSON array of strings; match the quoted element
  if (q.tag !== undefined) query = query.where('devices.tags', 'like', `%${JSON.stringify(q.tag).replace(/[%_]/g, '')}%`)
  if (q.seenBefore !== undefined) {
    const before = q.seenBefore
    query = query.where((eb) => eb.or([eb('devices.last_seen_at', 'is', null), eb('devices.last_seen_at', '<', before)]))
  }
  if (q.search !== undefined && q.search !== '') {
    const prefix = `${literal(q.search)}%`
    // ESCAPE spelled out: PostgreSQL defaults to `\`, SQLite has no default
    query = query.where(sql<boolean>`(devices.id like ${prefix} escape '\\' or devices.hardware_id like ${prefix} escape '\\')`)
  }
  if (q.name !== undefined) {
    const name = q.name
    const version = q.version
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('device_installed')
          .select('device_installed.device_id')
          .whereRef('device_installed.device_id', '=', 'devices.id')
          .where('device_installed.name', '=', name)
          .$if(version !== undefined, (qb) => qb.where('device_installed.version', '=', version!)),
      ),
    )
  }
  if (q.ids !== undefined) query = query.where('devices.id', 'in', q.ids.length ? q.ids : [''])
  if (q.integrity !== undefined) {
    const state = q.integrity
    query = query.where((eb) =>
      eb.exists(eb.selectFrom('device_integrity').select('device_integrity.device_id').whereRef('device_integrity.device_id', '=', 'devices.id').where('device_integrity.state', '=', state)),
    )
  }
  if (q.inventory !== undefined) query = filterInventory(query, q.inventory)
  return filterByProvenance(query, q)
}

/** Exact matches on the latest inventory (issue 12 §3): its columns, and the live models. */
function filterInventory<O>(query: SelectQueryBuilder<Database, 'devices', O>, inv: InventorySelector): SelectQueryBuilder<Database, 'devices', O> {
  const cols = { os: 'os', kernel: 'kernel', agentVersion: 'agent_version', bootloader: 'bootloader' } as const
  for (const [key, col] of Object.entries(cols) as Array<[keyof typeof cols, (typeof cols)[keyof typeof cols]]>) {
    const v = inv[key]
    if (v === undefined) continue
    query = query.where((eb) =>
      eb.exists(eb.selectFrom('device_inventory').select('device_inventory.device_id').whereRef('device_inventory.device_id', '=', 'devices.id').where(`device_inventory.${col}`, '=', v)),
    )
  }
  if (inv.tpm !== undefined) {
    const tpm = inv.tpm ? 1 : 0
    query = query.where((eb) =>
      eb.exists(eb.selectFrom('device_inventory').select('device_inventory.device_id').whereRef('device_inventory.device_id', '=', 'devices.id').where('device_inventory.tpm', '=', tpm)),
    )
  }
  if (inv.model !== undefined) {
    const at = inv.model.lastIndexOf('@')
    const [name, version] = at > 0 ? [inv.model.slice(0, at), inv.model.slice(at + 1)] : [inv.model, undefined]
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('device_inventory_models')
          .select('device_inventory_models.device_id')
          .whereRef('device_inventory_models.device_id', '=', 'devices.id')
          .where('device_inventory_models.name', '=', name)
          .$if(version !== undefined, (qb) => qb.where('device_inventory_models.version', '=', version!)),
      ),
    )
  }
  return query
}

/** The WHERE clause of a device list query, shared by the page and its count. */
import { sql, type SelectQueryBuilder } from 'kysely'
import type { DeviceListQuery } from '../../../domain/fleet/repositories.js'
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
  return filterByProvenance(query, q)
}

/**
 * "Which devices run a build from commit X": devices whose installed release (name,
 * version and the sha256 the device reported) is a release whose signed provenance
 * carries that sourceRevision or sbomDigest (issue 12 §5). The provenance is stored as
 * the JSON text of the signed fields, so a quoted "key":"value" pair matches one value
 * exactly on SQLite and PostgreSQL alike; releases are few next to devices.
 */
import { sql, type SelectQueryBuilder } from 'kysely'
import type { DeviceListQuery } from '../../../domain/ports/fleet-repositories.js'
import type { Database } from '../schema.js'

/** LIKE wildcards in user text match themselves (escape character `\`). */
const literal = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)
const pair = (key: string, value: string) => `%${literal(`${JSON.stringify(key)}:${JSON.stringify(value)}`)}%`

export function filterByProvenance<O>(query: SelectQueryBuilder<Database, 'devices', O>, q: Pick<DeviceListQuery, 'sourceRevision' | 'sbomDigest'>): SelectQueryBuilder<Database, 'devices', O> {
  const wanted = [
    ...(q.sourceRevision === undefined ? [] : [pair('sourceRevision', q.sourceRevision)]),
    ...(q.sbomDigest === undefined ? [] : [pair('sbomDigest', q.sbomDigest)]),
  ]
  if (wanted.length === 0) return query
  return query.where((eb) =>
    eb.exists(
      eb
        .selectFrom('device_installed')
        .innerJoin('releases', (j) => j.onRef('releases.name', '=', 'device_installed.name').onRef('releases.version', '=', 'device_installed.version').onRef('releases.sha256', '=', 'device_installed.sha256'))
        .select('device_installed.device_id')
        .whereRef('device_installed.device_id', '=', 'devices.id')
        .where((w) => w.and(wanted.map((p) => sql<boolean>`releases.provenance like ${p} escape '\\'`))),
    ),
  )
}

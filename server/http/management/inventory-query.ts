/** GET /v1/devices query → the inventory part of a device list query (issue 12 §3). */
import { invalid } from '../../domain/errors.js'
import type { VersionTest } from '../../domain/devices/deb-version.js'
import type { InventorySelector } from '../../domain/devices/inventory.js'
import type { InventoryService } from '../../domain/devices/inventory-service.js'
import type { DeviceListQuery } from '../../domain/ports/fleet-repositories.js'

type Query = Record<string, unknown> & {
  package?: string
  versionLt?: string
  versionGte?: string
  versionEq?: string
  integrity?: 'drift' | 'timeout'
}

const PREFIX = 'inventory.'

/** Splits the query: `inventory.*` keys, the package search (resolved to device ids) and the integrity flag; `q` is the rest. */
export async function inventoryFilter<T extends Query>(
  query: T,
  inventory: InventoryService,
): Promise<{ q: Omit<T, `inventory.${string}` | 'package' | 'versionLt' | 'versionGte' | 'versionEq' | 'integrity'>; inventory: Partial<DeviceListQuery> }> {
  const rest: Record<string, unknown> = {}
  const sel: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(query)) {
    if (k.startsWith(PREFIX)) sel[k.slice(PREFIX.length)] = v
    else if (!['package', 'versionLt', 'versionGte', 'versionEq', 'integrity'].includes(k)) rest[k] = v
  }
  const tests: VersionTest[] = []
  if (query.versionLt !== undefined) tests.push({ op: 'lt', version: query.versionLt })
  if (query.versionGte !== undefined) tests.push({ op: 'gte', version: query.versionGte })
  if (query.versionEq !== undefined) tests.push({ op: 'eq', version: query.versionEq })
  if (tests.length > 1) throw invalid('INVENTORY_QUERY_INVALID', 'give at most one of versionLt, versionGte, versionEq')
  if (tests.length && query.package === undefined) throw invalid('INVENTORY_QUERY_INVALID', 'versionLt / versionGte / versionEq need package=NAME')
  const out: Partial<DeviceListQuery> = {}
  if (Object.keys(sel).length) out.inventory = sel as InventorySelector
  if (query.package !== undefined) out.ids = await inventory.devicesWithPackage(query.package, tests[0])
  if (query.integrity !== undefined) out.integrity = query.integrity
  return { q: rest as never, inventory: out }
}

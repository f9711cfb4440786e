/**
 * A device's inventory (issue 12 §3): what it runs besides the releases it was
 * assigned. The facts a selector or a search can name are kept apart from free space,
 * which moves all the time: the server's digest covers the facts only, so a report
 * that only moves free space adds no history row.
 */
import { inventoryDigest, packagesDigest, type InventoryPackage, type InventoryReport } from '../../../client-sdk/src/wire/index.js'

/** The report is the device contract's (client-sdk/src/wire/inventory.ts); the digests are the contract's functions, which the agent computes too: both sides agree by construction. */
export type { InventoryPackage, InventoryReport }
export { inventoryDigest, packagesDigest }

/** What selectors and exact searches match on; kept with the device row. */
export interface InventoryFacts {
  /** `ID-VERSION_ID` of os-release, e.g. `debian-12` */
  os?: string
  kernel?: string
  agentVersion?: string
  bootloader?: string
  tpm?: boolean
  models: Array<{ name: string; version: string }>
}

/** The inventory as stored: the report (without the package list) and when it last changed. */
export interface StoredInventory {
  digest: string
  facts: InventoryFacts
  report: Omit<InventoryReport, 'packages'> & { packages?: { digest: string; count: number } }
  /** the package-list digest whose list the server holds (null: none) */
  packagesListDigest: string | null
  reportedAt: string
  changedAt: string
}

/** The selector and search keys over inventory facts (all exact). */
export interface InventorySelector {
  os?: string
  kernel?: string
  agentVersion?: string
  bootloader?: string
  tpm?: boolean
  /** a live model: `name` or `name@version` */
  model?: string
}

export const INVENTORY_KEYS = ['os', 'kernel', 'agentVersion', 'bootloader', 'tpm', 'model'] as const

export function osLabel(os: InventoryReport['os']): string | undefined {
  if (!os?.id) return undefined
  return os.versionId ? `${os.id}-${os.versionId}` : os.id
}

export function factsOf(r: InventoryReport): InventoryFacts {
  const os = osLabel(r.os)
  return {
    ...(os !== undefined && { os }),
    ...(r.kernel !== undefined && { kernel: r.kernel }),
    agentVersion: r.agentVersion,
    ...(r.bootloader !== undefined && { bootloader: r.bootloader }),
    ...(r.tpm !== undefined && { tpm: r.tpm }),
    models: r.models.map((m) => ({ name: m.name, version: m.version })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }
}

/** Does a device's inventory satisfy the selector's inventory keys? */
export function inventoryMisses(sel: InventorySelector | undefined, facts: InventoryFacts | undefined): string | undefined {
  if (!sel) return undefined
  const f = facts ?? { models: [] }
  for (const k of ['os', 'kernel', 'agentVersion', 'bootloader'] as const)
    if (sel[k] !== undefined && sel[k] !== f[k]) return `the rollout selects inventory.${k} ${sel[k]}, the device reports ${f[k] ?? 'nothing'}`
  if (sel.tpm !== undefined && sel.tpm !== f.tpm) return `the rollout selects inventory.tpm ${sel.tpm}, the device reports ${f.tpm ?? 'nothing'}`
  if (sel.model !== undefined) {
    const at = sel.model.lastIndexOf('@')
    const [name, version] = at > 0 ? [sel.model.slice(0, at), sel.model.slice(at + 1)] : [sel.model, undefined]
    if (!f.models.some((m) => m.name === name && (version === undefined || m.version === version))) return `the rollout selects inventory.model ${sel.model}, the device does not run it`
  }
  return undefined
}

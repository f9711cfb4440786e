/**
 * A device's inventory (issue 12 §3): what it runs besides the releases it was
 * assigned. The facts a selector or a search can name are kept apart from free space,
 * which moves all the time: the server's digest covers the facts only, so a report
 * that only moves free space adds no history row.
 */
import { createHash } from 'node:crypto'
import { canonicalize } from '../../../signing/canonical-json.js'

export interface InventoryPackage {
  name: string
  version: string
}

export interface InventoryReport {
  /** from /etc/os-release */
  os?: { id?: string; versionId?: string; prettyName?: string }
  /** `uname -r` */
  kernel?: string
  agentVersion: string
  /** sha256 of the sorted `name\tversion\n` lines of dpkg-query; `list` only when the server asked for it */
  packages?: { digest: string; count: number; list?: InventoryPackage[] }
  models: Array<{ name: string; version: string; sha256: string }>
  /** free space per slot and on the data partition, bytes */
  storage: Array<{ name: string; freeBytes: number; totalBytes?: number }>
  bootloader?: string
  tpm?: boolean
  /** the agent's own digest (its change detection; the server computes its own) */
  digest?: string
  at?: string
}

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

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** The digest of everything but free space (and the agent's own digest and time). */
export function inventoryDigest(r: InventoryReport): string {
  const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return sha256(
    canonicalize({
      os: r.os ?? null,
      kernel: r.kernel ?? null,
      agentVersion: r.agentVersion,
      packages: r.packages?.digest ?? null,
      models: byName(r.models).map((m) => ({ name: m.name, version: m.version, sha256: m.sha256 })),
      storage: byName(r.storage).map((s) => s.name),
      bootloader: r.bootloader ?? null,
      tpm: r.tpm ?? null,
    }),
  )
}

/** The digest of a package list as the agent computes it: sorted, deduplicated `name\tversion\n` lines. */
export function packagesDigest(list: InventoryPackage[]): string {
  const lines = [...new Set(list.map((p) => `${p.name}\t${p.version}\n`))].sort()
  return sha256(lines.join(''))
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

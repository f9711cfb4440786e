/**
 * The inventory's digests, part of the contract: the agent sends a report at boot and
 * when the facts digest changes (it leaves free space out, which moves all the time),
 * and the server checks a sent package list against `packages.digest`. Both sides
 * compute them with these functions (the server in server/domain/devices/inventory.ts).
 */
import { createHash } from 'node:crypto'
import type { InventoryPackage, InventoryReport } from './inventory.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** sha256 of the sorted, deduplicated `name\tversion\n` lines (what the server checks a sent list against). */
export function packagesDigest(list: InventoryPackage[]): string {
  return sha256([...new Set(list.map((p) => `${p.name}\t${p.version}\n`))].sort().join(''))
}

/** Sorted keys, so that the same facts always give the same text. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v ?? null)
}

/** The digest of the report's facts: free space, the list itself, the digest and the time are left out. */
export function inventoryDigest(r: InventoryReport): string {
  const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return sha256(
    stable({
      os: r.os ?? null,
      kernel: r.kernel ?? null,
      agentVersion: r.agentVersion,
      packages: r.packages?.digest ?? null,
      models: byName(r.models),
      storage: byName(r.storage).map((s) => s.name),
      bootloader: r.bootloader ?? null,
      tpm: r.tpm ?? null,
    }),
  )
}

/** The inventory and integrity lines of `slipway device show` (issue 12 §3-4). */

interface InventoryShown {
  os?: { id?: string; versionId?: string; prettyName?: string }
  kernel?: string
  agentVersion?: string
  packages?: { digest: string; count: number }
  packagesListStored?: boolean
  models?: Array<{ name: string; version: string; sha256: string }>
  storage?: Array<{ name: string; freeBytes: number }>
  bootloader?: string
  tpm?: boolean
  reportedAt?: string
  changedAt?: string
  history?: unknown[]
}

interface IntegrityShown {
  state: string
  reports: number
  lastAt: string
  releaseKnown: boolean
  lastReport?: { integrity?: { target?: string; release?: { name: string; version: string }; firstDifferingMiB?: number | null } }
}

const size = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} B`)

export function inventoryLines(inv: InventoryShown | null | undefined, integrity: IntegrityShown[] | undefined): string[] {
  const out: string[] = []
  if (!inv) out.push('  inventory    none reported yet')
  else {
    const os = inv.os?.prettyName ?? ([inv.os?.id, inv.os?.versionId].filter(Boolean).join(' ') || 'unknown OS')
    out.push(`  os           ${os}, kernel ${inv.kernel ?? '-'}`)
    out.push(`  agent        ${inv.agentVersion ?? '-'}, bootloader ${inv.bootloader ?? '-'}, TPM ${inv.tpm === undefined ? '-' : inv.tpm ? 'yes' : 'no'}`)
    if (inv.packages) out.push(`  packages     ${inv.packages.count} (digest ${inv.packages.digest.slice(0, 12)}…, ${inv.packagesListStored ? 'list stored' : 'list not stored yet'})`)
    out.push(`  models       ${(inv.models ?? []).map((m) => `${m.name}@${m.version} (sha256 ${m.sha256.slice(0, 12)}…)`).join(', ') || '-'}`)
    out.push(`  free space   ${(inv.storage ?? []).map((s) => `${s.name} ${size(s.freeBytes)}`).join(', ') || '-'}`)
    out.push(`  inventory    reported ${inv.reportedAt ?? '-'}, last changed ${inv.changedAt ?? '-'} (${inv.history?.length ?? 0} changes kept)`)
  }
  for (const f of integrity ?? []) {
    const i = f.lastReport?.integrity
    const what = i?.release ? `${i.target ?? ''} ${i.release.name}@${i.release.version}`.trim() : 'unknown target'
    const where = i?.firstDifferingMiB === undefined || i?.firstDifferingMiB === null ? '' : `, first differing MiB ${i.firstDifferingMiB}`
    out.push(`  integrity    ${f.state.toUpperCase()} in ${what}${where} (${f.reports} report${f.reports === 1 ? '' : 's'}, last ${f.lastAt})${f.releaseKnown ? '' : ' — names an unknown release: never trusted'}`)
  }
  return out
}

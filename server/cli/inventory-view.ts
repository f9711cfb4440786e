/** The inventory and integrity lines of `slipway device show` (issue 12 §3-4), from the declared device view. */
import type { DeviceDetailView } from '../http/management/views/index.js'

/** What a stored integrity report says (its body is the device's claim, kept as sent). */
interface ReportedIntegrity {
  integrity?: { target?: string; release?: { name: string; version: string }; firstDifferingMiB?: number | null }
}

const size = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} B`)

export function inventoryLines(inv: DeviceDetailView['inventory'], integrity: DeviceDetailView['integrity']): string[] {
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
    const i = (f.lastReport as ReportedIntegrity | null | undefined)?.integrity
    const what = i?.release ? `${i.target ?? ''} ${i.release.name}@${i.release.version}`.trim() : 'unknown target'
    const where = i?.firstDifferingMiB === undefined || i?.firstDifferingMiB === null ? '' : `, first differing MiB ${i.firstDifferingMiB}`
    out.push(`  integrity    ${f.state.toUpperCase()} in ${what}${where} (${f.reports} report${f.reports === 1 ? '' : 's'}, last ${f.lastAt})${f.releaseKnown ? '' : ' — names an unknown release: never trusted'}`)
  }
  return out
}

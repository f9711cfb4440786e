/**
 * `slipway release list|show`: what the server holds, for a release engineer.
 * `show` prints sizes, provenance, who signed it, its deltas, and with --metadata FILE
 * writes the signed envelope (what `slipway release verify` checks offline).
 * Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import { writeFile } from 'node:fs/promises'
import { canonicalWire } from '../../signing/canonical-json.js'
import { parse, required } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { actorNames, releaseByRef, releasesNamed } from './resolve.js'
import { table } from './table.js'

export const RELEASE_VIEW_USAGE = `  slipway release list [--name NAME] [--json]
  slipway release show NAME@VERSION [--metadata FILE] [--json]`

const out = (s: string) => void process.stdout.write(s)
export const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`

export async function listReleases(env: CliEnv, argv: string[]): Promise<void> {
  const { values } = parse(argv, { name: { type: 'string' }, json: { type: 'boolean' } }, RELEASE_VIEW_USAGE)
  const rows = await releasesNamed(env, values.name)
  if (values.json) return out(`${JSON.stringify({ releases: rows }, null, 2)}\n`)
  if (rows.length === 0) return out('no releases\n')
  const who = await actorNames(env)
  out(
    table(
      ['name', 'version', 'kind', 'hardware', 'size', 'security', 'sha256', 'created', 'by'],
      rows.map((r) => [r.name, r.version, r.kind, r.hardware.join(','), mib(r.length), r.securityVersion, r.sha256.slice(0, 12), r.createdAt, who(r.createdBy)]),
    ),
  )
}

interface DeltaRow {
  id: string
  from: string
  state: string
  patchLength: number | null
  compressedTargetLength: number | null
  patchRatio: number | null
}

export async function showRelease(env: CliEnv, argv: string[]): Promise<void> {
  const usage = `usage:\n${RELEASE_VIEW_USAGE}`
  const { values, positionals } = parse(argv, { metadata: { type: 'string' }, json: { type: 'boolean' } }, usage)
  const r = await releaseByRef(env, required(positionals[0], 'NAME@VERSION', usage), usage)
  const deltas = ((await apiRequest(env, 'GET', `/v1/deltas?to=${encodeURIComponent(r.id)}&limit=500`)).body as { deltas: DeltaRow[] }).deltas
  if (values.metadata) {
    if (!r.metadata) throw new Error(`${r.name}@${r.version} has no signed metadata (pushed before signing was required)`)
    await writeFile(values.metadata, canonicalWire(r.metadata))
    process.stderr.write(`wrote the signed metadata to ${values.metadata}\n`)
  }
  if (values.json) return out(`${JSON.stringify({ release: r, deltas }, null, 2)}\n`)
  const who = await actorNames(env)
  const sources = new Map((await releasesNamed(env, r.name)).map((x) => [x.id, `${x.name}@${x.version}`]))
  const p = r.provenance
  out(
    [
      `release ${r.name}@${r.version}  (${r.id})`,
      `  kind          ${r.kind}`,
      `  hardware      ${r.hardware.join(', ')}`,
      `  size          ${r.length} bytes (${mib(r.length)})`,
      `  sha256        ${r.sha256}`,
      `  security      ${r.securityVersion}`,
      `  provenance    source ${p.sourceRevision ?? '-'}, builder ${p.builder ?? '-'}, sbom ${p.sbomDigest ?? '-'}${p.license ? `, license ${p.license}` : ''}`,
      `  signed by     ${(r.metadata?.signatures ?? []).map((s) => `${s.keyid} (release role)`).join(', ') || 'unsigned'}`,
      `  pushed        ${r.createdAt} by ${who(r.createdBy)}`,
      '',
    ].join('\n'),
  )
  if (deltas.length === 0) return out('no deltas to this release\n')
  out(
    table(
      ['delta', 'from', 'state', 'patch', 'full (compressed)', 'ratio'],
      deltas.map((d) => [d.id, sources.get(d.from) ?? d.from, d.state, d.patchLength === null ? '-' : mib(d.patchLength), d.compressedTargetLength === null ? '-' : mib(d.compressedTargetLength), d.patchRatio === null ? '-' : d.patchRatio.toFixed(3)]),
    ),
  )
}

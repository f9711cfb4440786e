/**
 * `slipway delta request|list|show`: deltas the server builds (POST/GET /v1/deltas),
 * with releases named NAME@VERSION. Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { mib } from './release-view.js'
import { releaseByRef, releasesNamed, type ReleaseRow } from './resolve.js'
import { table } from './table.js'

export const DELTA_REMOTE_USAGE = `  slipway delta request NAME@FROM NAME@TO [--json]   ask the server to build (202 building, 200 built)
  slipway delta list [--state STATE] [--to NAME@VERSION] [--json]
  slipway delta show ID [--json]`

interface DeltaView {
  id: string
  from: string
  to: string
  state: string
  progress: number
  attempts: number
  patchSha256: string | null
  patchLength: number | null
  compressedTargetLength: number | null
  patchRatio: number | null
  error: { code: string; message: string } | null
  buildMs: number | null
  createdAt: string
}

const out = (s: string) => void process.stdout.write(s)
const usage = `usage:\n${DELTA_REMOTE_USAGE}`

async function names(env: CliEnv): Promise<(id: string) => string> {
  const all = new Map((await releasesNamed(env)).map((r: ReleaseRow) => [r.id, `${r.name}@${r.version}`]))
  return (id) => all.get(id) ?? id
}

export async function deltaRemoteCommand(env: () => CliEnv, sub: string, argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, state: { type: 'string' }, to: { type: 'string' } }, usage)
  const e = env()
  if (sub === 'request') {
    const [from, to, ...extra] = positionals
    if (!from || !to || extra.length) throw new UsageError(usage)
    const [a, b] = [await releaseByRef(e, from, usage), await releaseByRef(e, to, usage)]
    const { status, body } = await apiRequest(e, 'POST', '/v1/deltas', { from: a.id, to: b.id })
    if (values.json) return out(`${JSON.stringify(body, null, 2)}\n`)
    const d = body as DeltaView
    process.stderr.write(status === 202 ? `building (slipway delta show ${d.id} follows it)\n` : `built: ${d.state}\n`)
    return show(d, await names(e))
  }
  if (sub === 'list') {
    const q = new URLSearchParams({ limit: '500' })
    if (values.state) q.set('state', values.state)
    if (values.to) q.set('to', (await releaseByRef(e, values.to, usage)).id)
    const deltas = ((await apiRequest(e, 'GET', `/v1/deltas?${q}`)).body as { deltas: DeltaView[] }).deltas
    if (values.json) return out(`${JSON.stringify({ deltas }, null, 2)}\n`)
    if (deltas.length === 0) return out('no deltas\n')
    const name = await names(e)
    return out(
      table(
        ['id', 'from', 'to', 'state', 'progress', 'patch', 'ratio'],
        deltas.map((d) => [d.id, name(d.from), name(d.to), d.state, `${Math.round(d.progress * 100)}%`, d.patchLength === null ? '-' : mib(d.patchLength), d.patchRatio === null ? '-' : d.patchRatio.toFixed(3)]),
      ),
    )
  }
  if (sub === 'show') {
    const id = required(positionals[0], 'ID', usage)
    const { body } = await apiRequest(e, 'GET', `/v1/deltas/${encodeURIComponent(id)}`)
    if (values.json) return out(`${JSON.stringify(body, null, 2)}\n`)
    return show(body as DeltaView, await names(e))
  }
  throw new UsageError(usage)
}

function show(d: DeltaView, name: (id: string) => string): void {
  out(
    [
      `delta ${d.id}`,
      `  from → to     ${name(d.from)} → ${name(d.to)}`,
      `  state         ${d.state} (${Math.round(d.progress * 100)}%, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'})`,
      `  patch         ${d.patchLength === null ? '-' : `${d.patchLength} bytes (${mib(d.patchLength)}), sha256 ${d.patchSha256}`}`,
      `  full image    ${d.compressedTargetLength === null ? '-' : `${mib(d.compressedTargetLength)} compressed; patch ratio ${d.patchRatio?.toFixed(3) ?? '-'}`}`,
      `  build time    ${d.buildMs === null ? '-' : `${(d.buildMs / 1000).toFixed(1)} s`}`,
      ...(d.error ? [`  error         ${d.error.code}: ${d.error.message}`] : []),
      '',
    ].join('\n'),
  )
}

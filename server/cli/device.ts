/**
 * `slipway device list|show|explain`: the fleet as the server sees it (GET /v1/devices…).
 * Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import type { DeviceDetailView, DeviceView, DownloadProgressView, ExplanationView } from '../http/management/views/index.js'
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { table } from './table.js'
import { QUARANTINE_COMMANDS, QUARANTINE_USAGE, quarantineCommand } from './device-quarantine.js'
import { DEVICE_MANAGE_USAGE, deviceBulk, deviceSet } from './device-manage.js'
import { inventoryLines } from './inventory-view.js'

export const DEVICE_USAGE = `usage:
  slipway device list [--group G] [--tag T] [--state S] [--version NAME[@VERSION]] [--limit N] [--after ID] [--json]
  slipway device show ID [--json]
  slipway device explain ID [--json]
${QUARANTINE_USAGE}
${DEVICE_MANAGE_USAGE}`

const out = (s: string) => process.stdout.write(s)
const json = (v: unknown): void => void out(`${JSON.stringify(v, null, 2)}\n`)
const runs = (d: DeviceView) => d.installed.map((i) => `${i.name}@${i.version}`).join(',') || '-'

export async function deviceCommand(env: () => CliEnv, argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  if (sub === 'list') return list(env, rest)
  if (sub === 'show') return show(env, rest)
  if (sub === 'explain') return explain(env, rest)
  const standing = QUARANTINE_COMMANDS.find((c) => c === sub)
  if (standing) return quarantineCommand(env, standing, rest)
  if (sub === 'set') return deviceSet(env, rest)
  if (sub === 'bulk-update') return deviceBulk(env, rest)
  if (sub === undefined || sub === 'help' || sub === '--help') return void out(`${DEVICE_USAGE}\n`)
  throw new UsageError(`unknown device command "${sub}"\n\n${DEVICE_USAGE}`)
}

async function list(env: () => CliEnv, argv: string[]): Promise<void> {
  const s = { type: 'string' } as const
  const { values } = parse(argv, { group: s, tag: s, state: s, version: s, limit: s, after: s, json: { type: 'boolean' } }, DEVICE_USAGE)
  const { json: asJson, ...filters } = values
  const q = new URLSearchParams({ limit: '100' })
  for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, v)
  const { body } = await apiRequest(env(), 'GET', `/v1/devices?${q}`)
  if (asJson) return json(body)
  const devices = (body as { devices: DeviceView[] }).devices
  if (!devices.length) return void out('no devices\n')
  out(
    table(
      ['id', 'hardware id', 'hardware', 'group', 'tags', 'runs', 'last state', 'last report'],
      devices.map((d) => [d.id, d.hardwareId, d.hardware, d.group, d.tags.join(',') || '-', runs(d), d.lastState ?? '-', d.lastReportAt ?? '-']),
    ),
  )
  if (devices.length === Number(q.get('limit'))) process.stderr.write(`more devices may follow: --after ${devices.at(-1)!.id}\n`)
}

async function show(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = 'usage: slipway device show ID [--json]'
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, usage)
  const id = required(positionals[0], 'ID', usage)
  const { body } = await apiRequest(env(), 'GET', `/v1/devices/${encodeURIComponent(id)}`)
  if (values.json) return json(body)
  const d = body as DeviceDetailView
  const pct = (p: DownloadProgressView) => (p.total ? Math.floor((p.bytes / p.total) * 100) : 0)
  out(
    [
      `device ${d.id}`,
      `  hardware id  ${d.hardwareId}`,
      `  hardware     ${d.hardware}, group ${d.group}, tags ${d.tags.join(',') || '-'}`,
      `  runs         ${d.installed.map((i) => `${i.name}@${i.version} (securityVersion ${i.securityVersion}${i.installMode ? `, installed by ${i.installMode}` : ''})`).join(', ') || 'nothing known'}`,
      `  last report  ${d.lastState ?? '-'} (seq ${d.lastSeq}) at ${d.lastReportAt ?? 'never'}`,
      `  enrolled     ${d.createdAt}`,
      ...(d.progress && d.lastState === 'downloading' ? [`  downloading  ${d.progress.name}@${d.progress.version}: ${pct(d.progress)}% (${d.progress.bytes}/${d.progress.total} bytes at ${d.progress.at})`] : []),
      ...inventoryLines(d.inventory, d.integrity),
      ...(d.securityEvents ?? []).slice(0, 5).map((e) => `  security     ${e.kind} ${e.code} at ${e.receivedAt}${e.claimed?.rolloutId ? ` (claimed rollout ${e.claimed.rolloutId})` : ''}`),
      '',
    ].join('\n'),
  )
  if (!d.rollouts.length) return void out('in no rollout\n')
  out(
    table(
      ['rollout', 'phase', 'state', 'health', 'assigned', 'reported', 'reason'],
      d.rollouts.map((m) => [
        m.rolloutId,
        m.phase + 1,
        m.state + (m.reverted ? ' (reverted)' : ''),
        m.healthOk === null ? '-' : m.healthOk ? 'ok' : 'failed',
        m.assignedAt,
        m.reportedAt ?? '-',
        m.reason ? `${m.reason.code}: ${m.reason.message}` : '',
      ]),
    ),
  )
}

async function explain(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = 'usage: slipway device explain ID [--json]'
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, usage)
  const id = required(positionals[0], 'ID', usage)
  const { body } = await apiRequest(env(), 'GET', `/v1/devices/${encodeURIComponent(id)}/explain`)
  if (values.json) return json(body)
  const e = body as ExplanationView
  out(`${e.summary}\n${e.reasons.map((r) => `  - ${r}\n`).join('')}`)
}

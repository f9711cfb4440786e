/**
 * `slipway device set|bulk-update` and `slipway device-group list|show|save|delete`:
 * device management (PATCH /v1/devices/{id}, POST /v1/devices/bulk-update,
 * /v1/device-groups). Every change takes a --reason, which goes into the audit log.
 */
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { parseSelector } from './rollout-flags.js'
import { table } from './table.js'

export const DEVICE_MANAGE_USAGE = `  slipway device set ID [--group G] [--tags a,b | --add-tag T… --remove-tag T…] --reason TEXT [--json]
  slipway device bulk-update --selector hardware=rpi4,group=field,tag=x,saved-group=NAME [--ids ID,ID…] [--group G] [--add-tag T…] [--remove-tag T…] --reason TEXT`

export const GROUP_USAGE = `usage:
  slipway device-group list [--json]
  slipway device-group show NAME [--json]
  slipway device-group save NAME --selector hardware=rpi4,group=field,tag=x [--description TEXT] --reason TEXT
  slipway device-group delete NAME --reason TEXT`

const out = (s: string) => process.stdout.write(s)
const json = (v: unknown): void => void out(`${JSON.stringify(v, null, 2)}\n`)
const enc = encodeURIComponent
const LABEL_FLAGS = { group: { type: 'string' }, tags: { type: 'string' }, 'add-tag': { type: 'string', multiple: true }, 'remove-tag': { type: 'string', multiple: true }, reason: { type: 'string' }, json: { type: 'boolean' } } as const

function patchOf(v: { group?: string; tags?: string; 'add-tag'?: string[]; 'remove-tag'?: string[] }) {
  return {
    ...(v.group !== undefined && { group: v.group }),
    ...(v.tags !== undefined && { tags: v.tags.split(',').filter(Boolean) }),
    ...(v['add-tag']?.length && { addTags: v['add-tag'] }),
    ...(v['remove-tag']?.length && { removeTags: v['remove-tag'] }),
  }
}

export async function deviceSet(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = `usage:\n${DEVICE_MANAGE_USAGE}`
  const { values, positionals } = parse(argv, LABEL_FLAGS, usage)
  const id = required(positionals[0], 'ID', usage)
  const reason = required(values.reason, '--reason', usage)
  const { body } = await apiRequest(env(), 'PATCH', `/v1/devices/${enc(id)}`, { ...patchOf(values), reason })
  if (values.json) return json(body)
  const d = body as { id: string; group: string; tags: string[] }
  out(`device ${d.id}: group ${d.group}, tags ${d.tags.join(',') || '-'}\n`)
}

export async function deviceBulk(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = `usage:\n${DEVICE_MANAGE_USAGE}`
  const { values } = parse(argv, { ...LABEL_FLAGS, selector: { type: 'string' }, ids: { type: 'string' } }, usage)
  const reason = required(values.reason, '--reason', usage)
  const selector = { ...(values.selector !== undefined && parseSelector(values.selector)), ...(values.ids !== undefined && { ids: values.ids.split(',').filter(Boolean) }) }
  const { body } = await apiRequest(env(), 'POST', '/v1/devices/bulk-update', { selector, set: patchOf(values), reason })
  if (values.json) return json(body)
  const r = body as { matched: number; changed: number }
  out(`${r.matched} devices matched, ${r.changed} changed\n`)
}

export async function deviceGroupCommand(env: () => CliEnv, argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  const { values, positionals } = parse(
    rest,
    { selector: { type: 'string' }, description: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } },
    GROUP_USAGE,
  )
  if (sub === 'list') {
    const { body } = await apiRequest(env(), 'GET', '/v1/device-groups')
    if (values.json) return json(body)
    const groups = (body as { groups: Array<{ name: string; selector: Record<string, unknown>; devices: number; description: string | null }> }).groups
    return void out(groups.length ? table(['name', 'selector', 'devices', 'description'], groups.map((g) => [g.name, JSON.stringify(g.selector), g.devices, g.description ?? ''])) : 'no dynamic groups\n')
  }
  const name = required(positionals[0], 'NAME', GROUP_USAGE)
  if (sub === 'show') {
    const { body } = await apiRequest(env(), 'GET', `/v1/device-groups/${enc(name)}`)
    if (values.json) return json(body)
    const b = body as { group: { selector: unknown; devices: number }; devices: Array<{ id: string; hardwareId: string; group: string }> }
    return void out(`${name}: ${JSON.stringify(b.group.selector)}, ${b.group.devices} devices now\n${table(['id', 'hardware id', 'group'], b.devices.map((d) => [d.id, d.hardwareId, d.group]))}`)
  }
  const reason = required(values.reason, '--reason', GROUP_USAGE)
  if (sub === 'save') {
    const selector = parseSelector(required(values.selector, '--selector', GROUP_USAGE))
    const { body } = await apiRequest(env(), 'PUT', `/v1/device-groups/${enc(name)}`, { selector, reason, ...(values.description !== undefined && { description: values.description }) })
    return values.json ? json(body) : void out(`saved dynamic group ${name}\n`)
  }
  if (sub === 'delete') {
    await apiRequest(env(), 'DELETE', `/v1/device-groups/${enc(name)}?reason=${enc(reason)}`)
    return void out(`deleted dynamic group ${name}\n`)
  }
  throw new UsageError(`unknown device-group command "${sub}"\n\n${GROUP_USAGE}`)
}

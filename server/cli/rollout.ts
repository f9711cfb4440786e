/**
 * `slipway rollout …`: the operator rollout API (POST/GET /v1/rollouts…) from a shell.
 * Readable output by default, the API's JSON with --json. Reads SLIPWAY_URL and
 * SLIPWAY_TOKEN (an operator or admin token).
 */
import type { DryRunView as DryRun, RolloutRecord as Rollout, RolloutView } from '../http/management/views/index.js'
import { ACTIONS, type RolloutAction } from '../domain/rollouts/transitions.js'
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { CREATE_OPTIONS, CREATE_USAGE, rolloutBody } from './rollout-flags.js'
import { formatDryRun, formatList, formatPromotionPlan, formatView } from './rollout-view.js'

export const ROLLOUT_USAGE = `usage:
  slipway rollout create --release NAME@VERSION --phases 1,10,50,100 --reason TEXT [options]   (see rollout create --help)
  slipway rollout list [--state draft|running|paused|completed|aborted|rolled_back] [--json]
  slipway rollout show ID [--reach] [--json]
  slipway rollout start|pause|resume|promote|abort|rollback ID --reason TEXT [--json]`

const out = (s: string) => process.stdout.write(s)
const json = (v: unknown): void => void out(`${JSON.stringify(v, null, 2)}\n`)
const id = (s: string) => encodeURIComponent(s)

export async function rolloutCommand(env: () => CliEnv, argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  if (sub === 'create') return create(env, rest)
  if (sub === 'list') return list(env, rest)
  if (sub === 'show') return show(env, rest)
  if (ACTIONS.includes(sub as RolloutAction)) return act(env, sub as RolloutAction, rest)
  if (sub === undefined || sub === 'help' || sub === '--help') return void out(`${ROLLOUT_USAGE}\n`)
  throw new UsageError(`unknown rollout command "${sub}"\n\n${ROLLOUT_USAGE}`)
}

async function create(env: () => CliEnv, argv: string[]): Promise<void> {
  if (argv.includes('--help')) return void out(`${CREATE_USAGE}\n`)
  const { values, positionals } = parse(argv, CREATE_OPTIONS, CREATE_USAGE)
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\n\n${CREATE_USAGE}`)
  const body = rolloutBody(values)
  const e = env()
  if (values['dry-run']) {
    const { body: res } = await apiRequest(e, 'POST', '/v1/rollouts', body)
    return values.json ? json(res) : void out(formatDryRun(res as DryRun))
  }
  // before anything is created or started: a dry run under the id the rollout will get,
  // so the plan printed (devices per phase, healthy devices to promote) is its own
  const { body: plan } = await apiRequest(e, 'POST', '/v1/rollouts', { ...body, dryRun: true, start: undefined, reason: undefined })
  const d = plan as DryRun
  if (!values.json) out(formatPromotionPlan(d))
  const { body: res } = await apiRequest(e, 'POST', '/v1/rollouts', { ...body, id: d.rolloutId })
  if (values.json) return json(res)
  const v = res as RolloutView
  process.stderr.write(`created rollout ${v.rollout.id} (${v.rollout.state})\n`)
  out(formatView(v))
}

async function list(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = 'usage: slipway rollout list [--state STATE] [--limit N] [--json]'
  const { values } = parse(argv, { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, usage)
  const q = new URLSearchParams({ limit: values.limit ?? '100', ...(values.state !== undefined && { state: values.state }) })
  const e = env()
  const { body } = await apiRequest(e, 'GET', `/v1/rollouts?${q}`)
  const rollouts = (body as { rollouts: Rollout[] }).rollouts
  if (values.json) return json(body)
  // name@version of each distinct release, for people
  const names = new Map<string, string>()
  for (const rid of new Set(rollouts.map((r) => r.releaseId))) {
    const rel = (await apiRequest(e, 'GET', `/v1/releases/${id(rid)}`).catch(() => undefined))?.body as { name: string; version: string } | undefined
    names.set(rid, rel ? `${rel.name}@${rel.version}` : rid)
  }
  out(formatList(rollouts, (rid) => names.get(rid) ?? rid))
}

async function show(env: () => CliEnv, argv: string[]): Promise<void> {
  const usage = 'usage: slipway rollout show ID [--reach] [--json]'
  const { values, positionals } = parse(argv, { reach: { type: 'boolean' }, json: { type: 'boolean' } }, usage)
  const rid = required(positionals[0], 'ID', usage)
  const { body } = await apiRequest(env(), 'GET', `/v1/rollouts/${id(rid)}${values.reach ? '?reach=true' : ''}`)
  if (values.json) return json(body)
  out(formatView(body as RolloutView))
}

async function act(env: () => CliEnv, action: RolloutAction, argv: string[]): Promise<void> {
  const usage = `usage: slipway rollout ${action} ID --reason TEXT [--json]`
  const { values, positionals } = parse(argv, { reason: { type: 'string' }, json: { type: 'boolean' } }, usage)
  const rid = required(positionals[0], 'ID', usage)
  const reason = required(values.reason, '--reason', usage)
  const { body } = await apiRequest(env(), 'POST', `/v1/rollouts/${id(rid)}/${action}`, { reason })
  if (values.json) return json(body)
  const v = body as RolloutView
  process.stderr.write(`${action}: rollout ${v.rollout.id} is now ${v.rollout.state}\n`)
  out(formatView(v))
}

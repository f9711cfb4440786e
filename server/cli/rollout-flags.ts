/**
 * `slipway rollout create` flags → the POST /v1/rollouts body. Only the shape is
 * checked here (numbers are numbers, lists line up); the rules (phases increasing,
 * percent in range, gate limits) are the server's, so the CLI shows its stable codes.
 */
import { UsageError } from './args.js'

export const CREATE_USAGE = `usage: slipway rollout create --release NAME@VERSION --phases 1,10,50,100 --reason TEXT
         [--min-devices N[,N…]] [--soak SECONDS[,SECONDS…]]       one value for every phase, or one per phase
         [--max-failure-rate 0.05] [--min-sample N] [--max-failures N] [--silent-after SECONDS]
         [--metric 'inference_p95_ms<800' | 'inference_p95_ms<1.2x']  (repeatable; <1.2x = 1.2× the previous release's median)
         [--gate strict|standard|small-canary]   preset gate values (README "Gate presets"); the flags above override them
         [--selector hardware=rpi4,group=field,tag=x[,tag=y],saved-group=NAME] [--breach pause|rollback]
         [--allow-empty]   create even if the selector matches no device now
         [--id UUID]       the rollout id an earlier --dry-run reserved (same cohorts, same counts)
         [--dry-run] [--start] [--json]`

export const CREATE_OPTIONS = {
  release: { type: 'string' },
  phases: { type: 'string' },
  'min-devices': { type: 'string' },
  soak: { type: 'string' },
  'max-failure-rate': { type: 'string' },
  'min-sample': { type: 'string' },
  'max-failures': { type: 'string' },
  'silent-after': { type: 'string' },
  metric: { type: 'string', multiple: true },
  selector: { type: 'string' },
  breach: { type: 'string' },
  gate: { type: 'string' },
  id: { type: 'string' },
  'allow-empty': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  start: { type: 'boolean' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
} as const

type StringFlag = Exclude<keyof typeof CREATE_OPTIONS, 'metric' | 'dry-run' | 'start' | 'json' | 'allow-empty'>
export type CreateFlags = { [K in StringFlag]?: string } & { metric?: string[]; 'dry-run'?: boolean; start?: boolean; json?: boolean; 'allow-empty'?: boolean }

export const GATE_PRESETS = ['strict', 'standard', 'small-canary'] as const

function num(value: string, flag: string): number {
  const n = Number(value.trim())
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: "${value}" is not a number\n\n${CREATE_USAGE}`)
  return n
}

function list(value: string, flag: string): number[] {
  return value.split(',').map((v) => num(v, flag))
}

/** One value for every phase, or exactly one per phase. */
function perPhase(value: string | undefined, flag: string, phases: number): number[] | undefined {
  if (value === undefined) return undefined
  const v = list(value, flag)
  if (v.length === 1) return Array<number>(phases).fill(v[0]!)
  if (v.length !== phases) throw new UsageError(`${flag}: give one value, or one per phase (${phases}), not ${v.length}\n\n${CREATE_USAGE}`)
  return v
}

/** `name<800` (absolute) or `name<1.2x` (ratio to the previous release's median). */
export function parseMetric(spec: string): { name: string; max?: number; maxRatioToPrevious?: number } {
  const m = /^\s*([A-Za-z0-9_.:-]+)\s*<\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(x)?\s*$/i.exec(spec)
  if (!m) throw new UsageError(`--metric: "${spec}" is not NAME<NUMBER or NAME<RATIOx (e.g. 'inference_p95_ms<800', 'inference_p95_ms<1.2x')`)
  const value = Number(m[2])
  return m[3] ? { name: m[1]!, maxRatioToPrevious: value } : { name: m[1]!, max: value }
}

export function parseSelector(spec: string): { hardware?: string; group?: string; tags?: string[]; savedGroup?: string } {
  const sel: { hardware?: string; group?: string; tags?: string[]; savedGroup?: string } = {}
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=')
    const key = eq > 0 ? part.slice(0, eq).trim() : ''
    const value = eq > 0 ? part.slice(eq + 1).trim() : ''
    if (!value) throw new UsageError(`--selector: "${part}" is not KEY=VALUE (keys: hardware, group, tag)`)
    if (key === 'hardware' || key === 'group') {
      if (sel[key] !== undefined) throw new UsageError(`--selector: ${key} given twice`)
      sel[key] = value
    } else if (key === 'tag' || key === 'tags') sel.tags = [...(sel.tags ?? []), value]
    else if (key === 'saved-group') sel.savedGroup = value
    else throw new UsageError(`--selector: unknown key "${key}" (keys: hardware, group, tag, saved-group)`)
  }
  return sel
}

/** The request body for POST /v1/rollouts. */
export function rolloutBody(v: CreateFlags): Record<string, unknown> {
  if (!v.release) throw new UsageError(`--release is required\n\n${CREATE_USAGE}`)
  if (!v.phases) throw new UsageError(`--phases is required\n\n${CREATE_USAGE}`)
  if (!v['dry-run'] && !v.reason) throw new UsageError(`--reason is required (it goes into the audit log)\n\n${CREATE_USAGE}`)
  if (v['dry-run'] && v.start) throw new UsageError('--dry-run and --start exclude each other')
  const percents = list(v.phases, '--phases')
  const minDevices = perPhase(v['min-devices'], '--min-devices', percents.length)
  const soak = perPhase(v.soak, '--soak', percents.length)
  const phases = percents.map((percent, i) => ({
    percent,
    ...(minDevices && { minDevices: minDevices[i] }),
    ...(soak && { soakSeconds: soak[i] }),
  }))

  const gate: Record<string, unknown> = {}
  if (v['max-failure-rate'] !== undefined) gate.maxFailureRate = num(v['max-failure-rate'], '--max-failure-rate')
  if (v['min-sample'] !== undefined) gate.minSample = num(v['min-sample'], '--min-sample')
  if (v['max-failures'] !== undefined) gate.maxFailures = num(v['max-failures'], '--max-failures')
  if (v['silent-after'] !== undefined) gate.silentAfterSeconds = num(v['silent-after'], '--silent-after')
  if (v.metric?.length) {
    // 'x<800' and 'x<1.2x' on the same metric make one bound with both limits
    const byName = new Map<string, { name: string; max?: number; maxRatioToPrevious?: number }>()
    for (const m of v.metric.map(parseMetric)) byName.set(m.name, { ...byName.get(m.name), ...m })
    gate.metrics = [...byName.values()]
  }
  if (v.breach !== undefined && v.breach !== 'pause' && v.breach !== 'rollback') throw new UsageError(`--breach must be pause or rollback, not "${v.breach}"`)
  if (v.gate !== undefined && !(GATE_PRESETS as readonly string[]).includes(v.gate)) throw new UsageError(`--gate must be one of ${GATE_PRESETS.join(', ')}, not "${v.gate}"`)

  return {
    release: v.release,
    phases,
    ...(v.selector !== undefined && { selector: parseSelector(v.selector) }),
    ...(Object.keys(gate).length && { gate }),
    ...(v.breach !== undefined && { breachAction: v.breach }),
    ...(v.gate !== undefined && { gatePreset: v.gate }),
    ...(v.id !== undefined && { id: v.id }),
    ...(v['allow-empty'] && { allowEmpty: true }),
    ...(v.reason !== undefined && { reason: v.reason }),
    ...(v['dry-run'] && { dryRun: true }),
    ...(v.start && { start: true }),
  }
}

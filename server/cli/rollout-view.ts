/**
 * How `slipway rollout show` prints a rollout: what it ships to whom, per-phase member
 * counts, and the gate's figures in words. It reads the API's answers through their
 * declared views (server/http/management/views), not through domain types.
 */
import type { DryRunView as DryRun, RolloutRecord as Rollout, RolloutView } from '../http/management/views/index.js'
import { pct, table } from './table.js'

export function selectorText(s: Rollout['selector']): string {
  const parts = [s.hardware && `hardware=${s.hardware}`, s.group && `group=${s.group}`, ...(s.tags ?? []).map((t) => `tag=${t}`)].filter(Boolean)
  return parts.length ? parts.join(',') : 'every device the release is built for'
}

export function phaseText(r: Pick<Rollout, 'state' | 'phase' | 'phases'>): string {
  if (r.state === 'draft') return `${r.phases.length} phases`
  return `phase ${r.phase + 1}/${r.phases.length} (${r.phases[r.phase]?.percent}%)`
}

function gateText(g: Rollout['gate']): string {
  const parts = [
    `max failure rate ${pct(g.maxFailureRate)}`,
    `min sample ${g.minSample}`,
    `confidence ${Math.round(g.confidence * 100)}%`,
    `silent after ${g.silentAfterSeconds} s`,
    ...(g.maxFailures !== undefined ? [`max failures ${g.maxFailures}`] : []),
    ...(g.metrics ?? []).map((m) => [m.max !== undefined && `${m.name}<${m.max}`, m.maxRatioToPrevious !== undefined && `${m.name}<${m.maxRatioToPrevious}x`].filter(Boolean).join(' and ')),
  ]
  return parts.join(', ')
}

export function formatView(v: RolloutView): string {
  const r = v.rollout
  const head = [
    `rollout ${r.id}`,
    `  state     ${r.state}, ${phaseText(r)}${r.stateReason ? ` — ${r.stateReason}` : ''}`,
    `  release   ${v.release.name}@${v.release.version} (securityVersion ${v.release.securityVersion})`,
    `  selector  ${selectorText(r.selector)}`,
    `  gate      ${gateText(r.gate)}; on breach: ${r.breachAction}`,
    `  created   ${r.createdAt} by ${r.createdBy}; version ${r.version}`,
    '',
  ].join('\n')
  const withReach = v.phases.some((p) => p.reach !== undefined)
  const rows = v.phases.map((p) => {
    const m = p.members
    const mark = (r.state === 'running' || r.state === 'paused') && p.index === r.phase ? '>' : ' '
    return [`${mark}${p.index + 1}`, `${p.percent}%`, p.minDevices, `${p.soakSeconds}s`, p.healthyToPromote ?? 'never', m.assigned, m.healthy, m.failed, m.silent, m.pending, m.reverted, ...(withReach ? [p.reach ?? ''] : [])]
  })
  const t = v.totals
  rows.push(['total', '', '', '', '', t.assigned, t.healthy, t.failed, t.silent, t.pending, t.reverted, ...(withReach ? [''] : [])])
  const body = table(['phase', 'percent', 'min', 'soak', 'to promote', 'assigned', 'healthy', 'failed', 'silent', 'pending', 'reverted', ...(withReach ? ['reach now'] : [])], rows)
  return `${head}\n${body}${v.gate ? `\n${formatGate(v.gate)}` : ''}`
}

function formatGate(g: NonNullable<RolloutView['gate']>): string {
  const f = g.figures
  const lines = [
    `gate: ${g.verdict} — ${g.reason}`,
    `  decided ${f.decided}, failure rate ${pct(f.failureRate)}, bounds [${pct(f.bounds.lower)}, ${pct(f.bounds.upper)}], soak remaining ${f.soakRemainingSeconds} s, healthy still needed ${f.healthyNeeded}`,
    ...f.metrics.map(
      (m) => `  ${m.name}: median ${m.median} vs previous ${m.baseline ?? 'n/a'}${m.ratio !== null ? ` = ${m.ratio.toFixed(2)}×` : ''} (limit ${m.limit}×)${m.breached ? ' BREACHED' : ''}`,
    ),
  ]
  return `${lines.join('\n')}\n`
}

export function formatDryRun(d: DryRun): string {
  return (
    `dry run: ${d.release.name}@${d.release.version} — ${d.matching} matching devices now (rollout id ${d.rolloutId} reserved until ${d.reservedUntil})\n` +
    `  gate      ${gateText(d.gate)}\n` +
    table(
      ['phase', 'percent', 'devices', 'healthy to promote'],
      d.phases.map((p) => [p.index + 1, `${p.percent}%`, p.devices, p.healthyToPromote ?? 'never']),
    ) +
    promotionWarnings(d)
  )
}

/** Phases that cannot promote on their own with the devices they reach now. */
export function promotionWarnings(d: DryRun): string {
  return d.phases
    .map((p) =>
      p.healthyToPromote === null
        ? `warning: phase ${p.index + 1} can never be promoted by the gate (maxFailureRate too low for any sample); promote it by hand\n`
        : p.devices < p.healthyToPromote
          ? `warning: phase ${p.index + 1} reaches ${p.devices} devices now but needs ${p.healthyToPromote} healthy to promote: it waits for more devices, or promote it by hand (or use --gate small-canary)\n`
          : '',
    )
    .join('')
}

/** Before a rollout is created: what each phase needs to be promoted. */
export function formatPromotionPlan(d: DryRun): string {
  return (
    `to promote, each phase needs (if no device fails):\n` +
    d.phases.map((p) => `  phase ${p.index + 1} (${p.percent}%, reaches ${p.devices} now): ${p.healthyToPromote === null ? 'never by the gate' : `${p.healthyToPromote} healthy devices`}\n`).join('') +
    promotionWarnings(d)
  )
}

export function formatList(rollouts: Rollout[], releaseName: (id: string) => string): string {
  if (!rollouts.length) return 'no rollouts\n'
  return table(
    ['id', 'state', 'phase', 'release', 'selector', 'updated'],
    rollouts.map((r) => [r.id, r.state, phaseText(r), releaseName(r.releaseId), selectorText(r.selector), r.updatedAt]),
  )
}

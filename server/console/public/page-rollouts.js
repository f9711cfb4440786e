// Rollouts: the list, and one rollout live (phases, gate verdict in words, chart, audit timeline, actions).
import { html, api, useLive, useState, pct, ago, short } from './lib.js'
import { useReasonedAction } from './reasoned-action.js'
import { FailureChart } from './chart.js'

const STATES = ['draft', 'running', 'paused', 'completed', 'aborted', 'rolled_back']
// which action is possible from which state (server/domain/rollouts/transitions.ts); the server decides anyway
const ACTIONS = {
  start: ['draft'],
  pause: ['running'],
  resume: ['paused'],
  promote: ['running', 'paused'],
  abort: ['draft', 'running', 'paused'],
  rollback: ['running', 'paused', 'completed'],
}

async function releaseNames() {
  const { releases } = await api('/v1/releases?limit=500')
  return new Map(releases.map((r) => [r.id, `${r.name}@${r.version}`]))
}

export function RolloutList({ query }) {
  const state = query.get('state') ?? ''
  const after = query.get('after') ?? ''
  const { data, error } = useLive(
    async () => {
      const q = new URLSearchParams({ limit: '50', ...(state && { state }), ...(after && { after }) })
      const [{ rollouts }, names] = await Promise.all([api(`/v1/rollouts?${q}`), releaseNames()])
      return { rollouts, names }
    },
    [state, after],
    'fleet',
  )
  const go = (s) => (location.hash = `#/rollouts${s ? `?state=${s}` : ''}`)
  return html`<h1>Rollouts</h1>
    <label>State <select value=${state} onChange=${(e) => go(e.target.value)}>
      <option value="">all</option>${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
    </select></label>
    ${error && html`<p role="alert">${error.message}</p>`}
    ${data &&
    html`<table class="list">
        <thead><tr><th scope="col">Rollout</th><th scope="col">Release</th><th scope="col">State</th><th scope="col">Phase</th><th scope="col">Selector</th><th scope="col">Updated</th></tr></thead>
        <tbody>${data.rollouts.map(
          (r) => html`<tr>
            <td><a href=${`#/rollouts/${r.id}`}>${short(r.id)}</a></td>
            <td>${data.names.get(r.releaseId) ?? short(r.releaseId)}</td>
            <td><span class="state s-${r.state}">${r.state}</span></td>
            <td>${r.state === 'draft' ? `${r.phases.length} phases` : `${r.phase + 1}/${r.phases.length} (${r.phases[r.phase].percent}%)`}</td>
            <td>${selectorText(r.selector)}</td>
            <td>${ago(r.updatedAt)}</td>
          </tr>`,
        )}</tbody>
      </table>
      ${data.rollouts.length === 50 && html`<a href=${`#/rollouts?${new URLSearchParams({ ...(state && { state }), after: data.rollouts[49].id })}`}>Next page</a>`}`}`
}

export const selectorText = (s) =>
  [s.savedGroup && `dynamic group ${s.savedGroup}:`, s.hardware && `hardware=${s.hardware}`, s.group && `group=${s.group}`, ...(s.tags ?? []).map((t) => `tag=${t}`)].filter(Boolean).join(' ') ||
  'every device the release is built for'

function verdictText(g) {
  if (!g) return null
  const word = { wait: 'waiting', breach: 'breach', promote: 'ready to promote', complete: 'ready to complete' }[g.verdict] ?? g.verdict
  return `${word}: ${g.reason}`
}

function Action({ id, action, enabled, onDone }) {
  const [open, setOpen] = useState(false)
  const { reason, setReason, sure, setSure, error, ready, submit } = useReasonedAction(`/v1/rollouts/${id}/${action}`, () => {
    setOpen(false)
    onDone()
  })
  // an open form stays open when the state moves on underneath it: submitting then shows the server's 409
  if (!open) return html`<button data-action=${action} disabled=${!enabled} onClick=${() => setOpen(true)}>${action}</button>`
  return html`<form class="action" onSubmit=${submit} aria-label=${`${action} rollout`}>
    <label for=${`reason-${action}`}>Reason for ${action} (goes into the audit log)</label>
    <textarea id=${`reason-${action}`} name="reason" required minlength="1" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea>
    <label class="inline"><input type="checkbox" name="confirm" required checked=${sure} onChange=${(e) => setSure(e.target.checked)} /> I confirm: ${action} this rollout</label>
    <button type="submit" disabled=${!ready}>Confirm ${action}</button>
    <button type="button" class="link" onClick=${() => setOpen(false)}>Cancel</button>
    ${error && html`<p role="alert" class="error">${error}</p>`}
  </form>`
}

export function RolloutDetail({ id, me }) {
  const [tick, setTick] = useState(0)
  const { data, error } = useLive(
    async () => {
      const [view, series, audit] = await Promise.all([
        api(`/v1/rollouts/${id}`),
        api(`/v1/rollouts/${id}/series`),
        api(`/v1/audit?subject=${encodeURIComponent(`rollout:${id}`)}&limit=500`),
      ])
      return { view, series, audit: audit.entries }
    },
    [id, tick],
    `rollout:${id}`,
  )
  if (!data) return error ? html`<p role="alert">${error.message}</p>` : html`<p aria-busy="true">Loading…</p>`
  const { view: v, series, audit } = data
  const r = v.rollout
  const possible = Object.keys(ACTIONS).filter((a) => ACTIONS[a].includes(r.state))
  const live = r.state === 'running' || r.state === 'paused'
  return html`<h1>Rollout ${short(r.id)} <span class="state s-${r.state}" data-testid="rollout-state">${r.state}</span></h1>
    <p>${v.release.name}@${v.release.version} to ${selectorText(r.selector)}; on breach: ${r.breachAction}.${r.stateReason ? html` <em>${r.stateReason}</em>` : ''}</p>
    ${v.gate && html`<p class="verdict v-${v.gate.verdict}" data-testid="verdict" aria-live="polite">${verdictText(v.gate)}</p>`}
    <section class="card">
      <h2>Actions</h2>
      ${me.canAct
        ? html`<div class="actions">${Object.keys(ACTIONS).map((a) => html`<${Action} key=${a} id=${r.id} action=${a} enabled=${possible.includes(a)} onDone=${() => setTick(tick + 1)} />`)}</div>`
        : html`<p data-testid="read-only">Read-only token (${me.role}): you can watch, not act. ${possible.map((a) => html`<button disabled title="needs an operator or admin token">${a}</button> `)}</p>`}
    </section>
    <section class="card">
      <h2>Phases</h2>
      <table class="list" data-testid="phases">
        <thead><tr><th scope="col">Phase</th><th scope="col" class="num">Percent</th><th scope="col" class="num">Healthy to promote</th><th scope="col" class="num">Assigned</th><th scope="col" class="num">Healthy</th><th scope="col" class="num">Failed</th><th scope="col" class="num">Silent</th><th scope="col" class="num">Pending</th><th scope="col" class="num">Reverted</th></tr></thead>
        <tbody>${v.phases.map(
          (p) => html`<tr class=${live && p.index === r.phase ? 'current' : ''}>
            <td>${p.index + 1}${live && p.index === r.phase ? ' (current)' : ''}</td><td class="num">${p.percent}%</td><td class="num">${p.healthyToPromote ?? 'never'}</td>
            <td class="num">${p.members.assigned}</td><td class="num">${p.members.healthy}</td><td class="num">${p.members.failed}</td><td class="num">${p.members.silent}</td><td class="num">${p.members.pending}</td><td class="num">${p.members.reverted}</td>
          </tr>`,
        )}
        <tr class="total"><td>Total</td><td></td><td></td><td class="num" data-testid="total-assigned">${v.totals.assigned}</td><td class="num" data-testid="total-healthy">${v.totals.healthy}</td><td class="num" data-testid="total-failed">${v.totals.failed}</td><td class="num">${v.totals.silent}</td><td class="num">${v.totals.pending}</td><td class="num">${v.totals.reverted}</td></tr>
        </tbody>
      </table>
      ${v.gate &&
      html`<p>Gate: ${v.gate.figures.decided} decided, failure rate ${pct(v.gate.figures.failureRate)}, ${Math.round(r.gate.confidence * 100)}% bounds [${pct(v.gate.figures.bounds.lower)}, ${pct(v.gate.figures.bounds.upper)}] against a limit of ${pct(r.gate.maxFailureRate)}${r.gate.maxFailures ? ` and ${r.gate.maxFailures} failures` : ''}; soak remaining ${v.gate.figures.soakRemainingSeconds} s.</p>`}
    </section>
    <section class="card"><h2>Failure rate</h2><${FailureChart} series=${series} /></section>
    <section class="card">
      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">${audit.map(
        (e) => html`<li><time datetime=${e.at}>${new Date(e.at).toLocaleString()}</time> <strong>${e.action}</strong> by ${e.actor}${e.reason ? html` — ${e.reason}` : ''}</li>`,
      )}</ol>
    </section>`
}

// Devices: a filtered, server-paged list; one device with its releases, history, reports, explain and labels.
import { html, api, useLive, useState, ago, short, bytes, ApiError } from './lib.js'
import { QuarantineCard } from './device-quarantine.js'

const FILTERS = ['search', 'group', 'hardware', 'tag', 'state', 'version', 'notSeenFactor']

export function DeviceList({ query }) {
  const q = Object.fromEntries(FILTERS.filter((f) => query.get(f)).map((f) => [f, query.get(f)]))
  const after = query.get('after') ?? ''
  const key = JSON.stringify([q, after])
  const { data, error } = useLive(() => api(`/v1/devices?${new URLSearchParams({ limit: '50', ...q, ...(after && { after }) })}`), [key], 'fleet')
  const apply = (e) => {
    e.preventDefault()
    const f = new FormData(e.target)
    location.hash = `#/devices?${new URLSearchParams([...f.entries()].filter(([, v]) => v !== ''))}`
  }
  return html`<h1>Devices</h1>
    <form class="filters" onSubmit=${apply} aria-label="Filter devices">
      ${FILTERS.map((f) => html`<label>${f}<input name=${f} value=${q[f] ?? ''} /></label>`)}
      <button type="submit">Filter</button>
    </form>
    ${error && html`<p role="alert">${error.message}</p>`}
    ${data &&
    html`<p>${data.total} devices match.</p>
      <table class="list">
        <thead><tr><th scope="col">Device</th><th scope="col">Hardware id</th><th scope="col">Hardware</th><th scope="col">Group</th><th scope="col">Tags</th><th scope="col">Runs</th><th scope="col">State</th><th scope="col">Last seen</th></tr></thead>
        <tbody>${data.devices.map(
          (d) => html`<tr>
            <td><a href=${`#/devices/${d.id}`}>${short(d.id)}</a>${d.quarantinedAt ? html` <span class="state s-paused">quarantined</span>` : ''}</td>
            <td>${d.hardwareId}</td><td>${d.hardware}</td><td>${d.group}</td><td>${d.tags.join(', ')}</td>
            <td>${d.installed.map((i) => `${i.name}@${i.version}`).join(', ')}</td><td>${d.lastState ?? '–'}</td><td>${ago(d.lastSeenAt)}</td>
          </tr>`,
        )}</tbody>
      </table>
      ${data.devices.length === 50 && html`<a href=${`#/devices?${new URLSearchParams({ ...q, after: data.devices[49].id })}`}>Next page</a>`}`}`
}

function LabelForm({ device, onDone }) {
  const [group, setGroup] = useState(device.group)
  const [tag, setTag] = useState('')
  const [reason, setReason] = useState('')
  const [error, setError] = useState(null)
  const send = async (body) => {
    setError(null)
    try {
      await api(`/v1/devices/${device.id}`, { method: 'PATCH', body: { ...body, reason } })
      setTag('')
      onDone()
    } catch (err) {
      setError(err instanceof ApiError ? `${err.status} ${err.code}: ${err.message}` : String(err))
    }
  }
  const need = !reason.trim()
  return html`<section class="card">
    <h2>Labels</h2>
    <label for="dev-reason">Reason (goes into the audit log)</label>
    <input id="dev-reason" value=${reason} onInput=${(e) => setReason(e.target.value)} />
    <form onSubmit=${(e) => (e.preventDefault(), send({ group }))} aria-label="Move to group">
      <label for="dev-group">Group</label> <input id="dev-group" value=${group} onInput=${(e) => setGroup(e.target.value)} />
      <button type="submit" disabled=${need || group === device.group}>Move</button>
    </form>
    <form onSubmit=${(e) => (e.preventDefault(), send({ addTags: [tag] }))} aria-label="Add a tag">
      <label for="dev-tag">Tag</label> <input id="dev-tag" value=${tag} onInput=${(e) => setTag(e.target.value)} />
      <button type="submit" disabled=${need || !tag.trim()}>Add tag</button>
    </form>
    <p>${device.tags.map((t) => html`<span class="tag">${t} <button class="link" aria-label=${`remove tag ${t}`} disabled=${need} onClick=${() => send({ removeTags: [t] })}>×</button></span> `)}</p>
    ${need && html`<p class="hint">Give a reason to enable the changes.</p>`}
    ${error && html`<p role="alert" class="error">${error}</p>`}
  </section>`
}

export function DeviceDetail({ id, me }) {
  const [tick, setTick] = useState(0)
  const { data, error } = useLive(
    async () => {
      const [device, reports, explain, audit] = await Promise.all([
        api(`/v1/devices/${id}`),
        api(`/v1/devices/${id}/reports?limit=30`),
        api(`/v1/devices/${id}/explain`),
        api(`/v1/audit?subject=${encodeURIComponent(`device:${id}`)}&limit=200`),
      ])
      return { device, reports, explain, audit: audit.entries }
    },
    [id, tick],
    'fleet',
  )
  if (!data) return error ? html`<p role="alert">${error.message}</p>` : html`<p aria-busy="true">Loading…</p>`
  const { device: d, reports, explain, audit } = data
  return html`<h1>Device ${d.hardwareId}</h1>
    <dl class="facts">
      <dt>Id</dt><dd>${d.id}</dd><dt>Hardware</dt><dd>${d.hardware}</dd><dt>Group</dt><dd>${d.group}</dd><dt>Tags</dt><dd>${d.tags.join(', ') || '–'}</dd>
      <dt>Last seen</dt><dd>${ago(d.lastSeenAt)}</dd><dt>Last report</dt><dd>${d.lastState ?? '–'} ${ago(d.lastReportAt)}</dd>
      <dt>Quarantine</dt><dd data-testid="quarantine">${d.quarantinedAt ? `quarantined ${ago(d.quarantinedAt)}` : 'no'}</dd>
    </dl>
    <section class="card"><h2>Why (explain)</h2><p><strong>${explain.summary}</strong></p><ul>${explain.reasons.map((r) => html`<li>${r}</li>`)}</ul></section>
    <section class="card"><h2>Installed releases</h2><ul>${d.installed.map((i) => html`<li>${i.name}@${i.version} (securityVersion ${i.securityVersion})</li>`)}</ul></section>
    ${d.progress && html`<section class="card"><h2>Download</h2><p data-testid="download-progress">${d.progress.name}@${d.progress.version}: ${bytes(d.progress.bytes)} of ${bytes(d.progress.total)}${d.progress.total ? ` (${Math.floor((100 * d.progress.bytes) / d.progress.total)}%)` : ''}, reported ${ago(d.progress.at)}</p>
      <progress max=${d.progress.total || 1} value=${d.progress.bytes} aria-label="download progress"></progress></section>`}
    ${d.securityEvents?.length > 0 &&
    html`<section class="card"><h2>Security events</h2><ul data-testid="security-events">${d.securityEvents.map((e) => html`<li><time datetime=${e.at}>${new Date(e.at).toLocaleString()}</time> ${e.kind}: <strong>${e.code}</strong> ${e.message}</li>`)}</ul></section>`}
    ${reports.progress &&
    html`<section class="card"><h2>Newest update: ${reports.progress.release}</h2>
      <ol class="steps">${reports.progress.steps.map((s) => html`<li class=${`step-${s.state}`}>${s.state} <time datetime=${s.at}>${ago(s.at)}</time>${s.reason ? ` — ${s.reason.code}: ${s.reason.message}` : ''}</li>`)}</ol></section>`}
    <section class="card"><h2>Assignment history</h2>
      <table class="list"><thead><tr><th scope="col">Rollout</th><th scope="col">Phase</th><th scope="col">State</th><th scope="col">Health</th><th scope="col">Assigned</th></tr></thead>
      <tbody>${d.rollouts.map((m) => html`<tr><td><a href=${`#/rollouts/${m.rolloutId}`}>${short(m.rolloutId)}</a></td><td>${m.phase + 1}</td><td>${m.state}${m.reverted ? ' (reverted)' : ''}</td><td>${m.healthOk === null ? '–' : m.healthOk ? 'ok' : 'failed'}</td><td>${ago(m.assignedAt)}</td></tr>`)}</tbody></table>
    </section>
    <section class="card"><h2>Last reports</h2>
      <ul class="reports">${reports.reports.map(
        (r) => html`<li><time datetime=${r.at}>${new Date(r.at).toLocaleString()}</time> ${r.kind === 'event' ? `event ${r.body.state}` : `health ${r.body.bootOk ? 'boot ok' : 'boot FAILED'}`} ${r.body.release ? `${r.body.release.name}@${r.body.release.version}` : ''}
          ${r.kind === 'health' && html`<ul>${r.body.checks.map((c) => html`<li>${c.ok ? '✓' : '✗'} ${c.name}${c.output ? html`: <code>${c.output}</code>` : ''}</li>`)}</ul>`}</li>`,
      )}</ul>
    </section>
    <${QuarantineCard} device=${d} me=${me} onDone=${() => setTick(tick + 1)} />
    ${me.canAct ? html`<${LabelForm} device=${d} onDone=${() => setTick(tick + 1)} />` : html`<p>Read-only token: labels cannot be changed.</p>`}
    <section class="card"><h2>Changes</h2><ol class="timeline">${audit.map((e) => html`<li>${new Date(e.at).toLocaleString()} <strong>${e.action}</strong> by ${e.actor}: ${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}${e.reason ? ` — ${e.reason}` : ''}</li>`)}</ol></section>`
}

// Fleet overview: devices by state, version, hardware and group; not seen lately; live rollouts.
import { html, api, useLive, useState } from './lib.js'

function Breakdown({ title, rows, link }) {
  return html`<section class="card">
    <h2>${title}</h2>
    ${rows.length
      ? html`<table><thead><tr><th scope="col">${title.replace('By ', '')}</th><th scope="col" class="num">Devices</th></tr></thead>
          <tbody>${rows.map((r) => html`<tr><td>${link ? html`<a href=${link(r.key)}>${r.key}</a>` : r.key}</td><td class="num">${r.devices}</td></tr>`)}</tbody></table>`
      : html`<p>none</p>`}
  </section>`
}

export function Overview() {
  const [factor, setFactor] = useState(3)
  const { data: o, error } = useLive(() => api(`/v1/fleet/overview?notSeenFactor=${factor}`), [factor], 'fleet')
  if (!o) return error ? html`<p role="alert">${error.message}</p>` : html`<p aria-busy="true">Loading…</p>`
  return html`<h1>Fleet</h1>
    <div class="stats">
      <div class="stat"><span class="big">${o.total}</span> devices</div>
      <div class="stat ${o.notSeen ? 'warn' : ''}"><a href=${`#/devices?notSeenFactor=${factor}`}><span class="big">${o.notSeen}</span> not seen</a> for
        <label class="inline">${' '}<input type="number" min="1" aria-label="poll intervals" value=${factor} onChange=${(e) => setFactor(Math.max(1, Number(e.target.value) || 3))} /></label> poll intervals</div>
      <div class="stat"><a href="#/rollouts?state=running"><span class="big">${o.rollouts.running}</span> rollouts running</a></div>
      <div class="stat ${o.rollouts.paused ? 'warn' : ''}"><a href="#/rollouts?state=paused"><span class="big">${o.rollouts.paused}</span> paused</a></div>
      ${'quarantined' in o && html`<div class="stat ${o.quarantined ? 'warn' : ''}"><span class="big">${o.quarantined}</span> quarantined</div>`}
    </div>
    <div class="grid">
      <${Breakdown} title="By state" rows=${o.byState} link=${(k) => `#/devices?state=${encodeURIComponent(k)}`} />
      <${Breakdown} title="By version" rows=${o.byVersion} />
      <${Breakdown} title="By hardware" rows=${o.byHardware} link=${(k) => `#/devices?hardware=${encodeURIComponent(k)}`} />
      <${Breakdown} title="By group" rows=${o.byGroup} link=${(k) => `#/devices?group=${encodeURIComponent(k)}`} />
    </div>`
}

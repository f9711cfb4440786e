// Releases and their deltas: sizes, bytes saved, build state and progress, who signed.
import { html, api, useLive, bytes, ago, short } from './lib.js'

const signers = (metadata) => (metadata?.signatures ?? []).map((s) => short(s.keyid)).join(', ') || 'unsigned'

export function Releases() {
  const { data, error } = useLive(async () => {
    const [{ releases }, { deltas }] = await Promise.all([api('/v1/releases?limit=200'), api('/v1/deltas?limit=200')])
    return { releases, deltas }
  }, [])
  if (!data) return error ? html`<p role="alert">${error.message}</p>` : html`<p aria-busy="true">Loading…</p>`
  const name = new Map(data.releases.map((r) => [r.id, `${r.name}@${r.version}`]))
  return html`<h1>Releases</h1>
    <table class="list">
      <thead><tr><th scope="col">Release</th><th scope="col">Kind</th><th scope="col">Hardware</th><th scope="col" class="num">Size</th><th scope="col" class="num">Security version</th><th scope="col">Signed by (key ids)</th><th scope="col">Pushed</th></tr></thead>
      <tbody>${data.releases.map((r) => html`<tr><td>${r.name}@${r.version}</td><td>${r.kind}</td><td>${r.hardware.join(', ')}</td><td class="num">${bytes(r.length)}</td><td class="num">${r.securityVersion}</td><td><code>${signers(r.metadata)}</code></td><td>${ago(r.createdAt)}</td></tr>`)}</tbody>
    </table>
    <h2>Deltas</h2>
    ${data.deltas.length
      ? html`<table class="list">
          <thead><tr><th scope="col">From → to</th><th scope="col">State</th><th scope="col" class="num">Progress</th><th scope="col" class="num">Patch</th><th scope="col" class="num">Full (compressed)</th><th scope="col" class="num">Saved</th><th scope="col">Signed by</th></tr></thead>
          <tbody>${data.deltas.map(
            (d) => html`<tr><td>${name.get(d.from) ?? short(d.from)} → ${name.get(d.to) ?? short(d.to)}</td><td>${d.state}${d.error ? ` (${d.error.code})` : ''}</td>
              <td class="num"><progress max="1" value=${d.progress} aria-label="build progress"></progress> ${Math.round(d.progress * 100)}%</td>
              <td class="num">${bytes(d.patchLength)}</td><td class="num">${bytes(d.compressedTargetLength)}</td>
              <td class="num">${d.patchLength != null && d.compressedTargetLength ? bytes(d.compressedTargetLength - d.patchLength) : '–'}</td><td><code>${signers(d.metadata)}</code></td></tr>`,
          )}</tbody></table>`
      : html`<p>No deltas.</p>`}`
}

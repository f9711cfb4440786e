// The audit log, with its hash chain verified here in the browser (Web Crypto): the
// server is not trusted to say the log is intact. Same rule as server/domain/audit-chain.ts:
// hash = sha256(prevHash || stableJson({seq, at, actor, action, subject, reason, before, after})).
import { html, api, useLive, useState } from './lib.js'

const GENESIS = '0'.repeat(64)

export function stableJson(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null)
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  return `{${Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
    .join(',')}}`
}

async function sha256hex(text) {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export async function verify(entries) {
  let prev = { seq: 0, hash: GENESIS }
  for (const e of entries) {
    if (e.seq !== prev.seq + 1) return { ok: false, at: e.seq, problem: `entry ${prev.seq + 1} is missing` }
    if (e.prevHash !== prev.hash) return { ok: false, at: e.seq, problem: `entry ${e.seq} does not link to entry ${prev.seq}` }
    const body = stableJson({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject, reason: e.reason, before: e.before ?? null, after: e.after ?? null })
    if ((await sha256hex(e.prevHash + body)) !== e.hash) return { ok: false, at: e.seq, problem: `entry ${e.seq} was altered (hash mismatch)` }
    prev = e
  }
  return { ok: true, entries: entries.length, head: prev.hash }
}

async function loadAll() {
  const all = []
  for (;;) {
    const { entries } = await api(`/v1/audit?after=${all.length ? all[all.length - 1].seq : 0}&limit=5000`)
    all.push(...entries)
    if (entries.length < 5000) break
  }
  return { entries: all, check: await verify(all) }
}

export function AuditLog() {
  const [shown, setShown] = useState(100)
  const { data, error } = useLive(loadAll, [], 'fleet')
  if (!data) return error ? html`<p role="alert">${error.message}</p>` : html`<p aria-busy="true">Loading and verifying…</p>`
  const { entries, check } = data
  return html`<h1>Audit log</h1>
    <p class=${check.ok ? 'verified' : 'broken'} data-testid="audit-verdict" role="status">
      ${check.ok ? `Chain verified in this browser: ${check.entries} entries, head ${check.head.slice(0, 16)}…` : `Chain BROKEN at entry ${check.at}: ${check.problem}`}
    </p>
    <table class="list" data-testid="audit">
      <thead><tr><th scope="col" class="num">#</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Subject</th><th scope="col">Reason</th></tr></thead>
      <tbody>${[...entries].reverse().slice(0, shown).map(
        (e) => html`<tr><td class="num">${e.seq}</td><td><time datetime=${e.at}>${new Date(e.at).toLocaleString()}</time></td><td>${e.actor}</td><td>${e.action}</td>
          <td>${e.subject.startsWith('rollout:') ? html`<a href=${`#/rollouts/${e.subject.slice(8)}`}>${e.subject}</a>` : e.subject.startsWith('device:') ? html`<a href=${`#/devices/${e.subject.slice(7)}`}>${e.subject}</a>` : e.subject}</td><td>${e.reason ?? ''}</td></tr>`,
      )}</tbody>
    </table>
    ${entries.length > shown && html`<button onClick=${() => setShown(shown + 200)}>Show older</button>`}`
}

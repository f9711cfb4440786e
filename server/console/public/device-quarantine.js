// Quarantine and release on the device page: each needs a reason (audit log) and a confirmation;
// a read-only token sees the state and a disabled button (the server refuses it anyway: 403).
import { html, useState, ago } from './lib.js'
import { useReasonedAction } from './reasoned-action.js'

const WHAT = {
  quarantine: 'its credential is revoked, its assignment withdrawn and it leaves every rollout count',
  release: 'the quarantine is lifted; its credential stays revoked, so it must enroll again',
}

function ConfirmForm({ device, action, onClose, onDone }) {
  const { reason, setReason, sure, setSure, error, ready, submit } = useReasonedAction(`/v1/devices/${device.id}/${action}`, onDone)
  return html`<form class="action" data-testid=${`${action}-form`} onSubmit=${submit} aria-label=${`${action} device`}>
    <label for=${`dev-${action}-reason`}>Reason to ${action} (goes into the audit log)</label>
    <textarea id=${`dev-${action}-reason`} name="reason" required minlength="1" maxlength="500" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea>
    <label class="inline"><input type="checkbox" name="confirm" required checked=${sure} onChange=${(e) => setSure(e.target.checked)} /> I confirm: ${action} ${device.hardwareId} (${WHAT[action]})</label>
    <button type="submit" disabled=${!ready}>Confirm ${action}</button>
    <button type="button" class="link" onClick=${onClose}>Cancel</button>
    ${error && html`<p role="alert" class="error">${error}</p>`}
  </form>`
}

export function QuarantineCard({ device: d, me, onDone }) {
  const [open, setOpen] = useState(false)
  const quarantined = !!d.quarantinedAt
  const action = quarantined ? 'release' : 'quarantine'
  return html`<section class="card">
    <h2>Quarantine</h2>
    <p data-testid="quarantine-state">${quarantined ? html`<strong>Quarantined</strong> ${ago(d.quarantinedAt)}${d.quarantineReason ? ` — ${d.quarantineReason}` : ''}` : 'Not quarantined.'}</p>
    ${!me.canAct
      ? html`<p data-testid="quarantine-read-only">Read-only token (${me.role}): <button disabled title="needs an operator or admin token">${action}</button></p>`
      : open
        ? html`<${ConfirmForm} device=${d} action=${action} onClose=${() => setOpen(false)} onDone=${() => (setOpen(false), onDone())} />`
        : html`<button data-action=${action} onClick=${() => setOpen(true)}>${action === 'quarantine' ? 'Quarantine this device' : 'Release from quarantine'}</button>`}
  </section>`
}

// The state of a console action that needs a reason (it goes into the audit log) and a
// ticked confirmation: a rollout action or a device quarantine/release. On success the
// form is cleared and `onDone` runs; a refusal is shown as the server's status and code.
import { api, useState, ApiError } from './lib.js'

export function useReasonedAction(path, onDone) {
  const [reason, setReason] = useState('')
  const [sure, setSure] = useState(false)
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api(path, { method: 'POST', body: { reason } })
      setReason('')
      setSure(false)
      onDone()
    } catch (err) {
      setError(err instanceof ApiError ? `${err.status} ${err.code}: ${err.message}` : String(err))
    } finally {
      setBusy(false)
    }
  }
  const ready = !busy && sure && reason.trim() !== ''
  return { reason, setReason, sure, setSure, error, ready, submit }
}

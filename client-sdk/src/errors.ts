/**
 * The agent's own error tree. Every failure the agent reports carries a stable
 * string `code`: its own (below), a `TrustError` code from `signing/verify`
 * (signature, expiry, binding, payload hash) or a `DeltaError` code from the
 * applier. The server and operators match on `code`, never on the message.
 */
import { CodedError } from './coded-error.js'
export type AgentErrorCode =
  | 'CONFIG_INVALID' // config file missing, not JSON, or a field of the wrong type
  | 'JOURNAL_CORRUPT' // the state file is not a journal this agent wrote
  | 'NETWORK_ERROR' // connection refused/reset, DNS, timeout
  | 'SERVER_ERROR' // the server answered 5xx
  | 'SERVER_REJECTED' // the server answered 4xx (code and message in details)
  | 'SERVER_RESPONSE_INVALID' // 2xx with a body that is not what DEVICE-API.md says
  | 'NOT_ENROLLED' // no credential on disk: run `slipway-agent enroll`
  | 'CREDENTIAL_REJECTED' // the server refused the device credential (401/403)
  | 'DOWNLOAD_REDIRECT_REFUSED' // redirect to another origin not in download.allowedRedirectHosts, or https → http
  | 'DOWNLOAD_TRUNCATED' // the body ended before its announced length
  | 'DOWNLOAD_TOO_LONG' // the body ran past its announced or signed length
  | 'DOWNLOAD_RANGE_INVALID' // a 206 whose Content-Range does not match what was asked
  | 'DOWNLOAD_RESUME_MISMATCH' // resuming, the server served other bytes (416, or another ETag): the download starts over
  | 'DATA_NO_SPACE' // ENOSPC writing the data folder (staged patch/model, journal, outbox); staging is freed and the failure reported
  | 'SLOT_NO_SPACE' // ENOSPC / EFBIG writing the inactive slot or the data folder
  | 'SLOT_WRITE_FAILED' // any other error writing the inactive slot
  | 'ACTIVE_SLOT_UNREADABLE' // the active slot (delta source) cannot be read
  | 'SLOT_ADAPTER_FAILED' // the bootloader adapter failed (markTry/commit/rollback)
  | 'REBOOT_FAILED' // the reboot command failed
  | 'BOOT_FAILED' // after the reboot the bootloader came back on the old slot
  | 'HEALTH_CHECK_FAILED' // a post-boot check failed (name and output tail in details)
  | 'MODEL_INSTALL_FAILED' // the model module refused or failed
  | 'UNSUPPORTED_PAYLOAD' // a kind/format this agent cannot install
  | 'TPM_TOOL_MISSING' // tpm2-tools is not installed (Debian: tpm2-tools)
  | 'TPM_FAILED' // a tpm2-tools command failed (TPM unreachable, auth, out of memory); stderr tail in details
  | 'TPM_KEY_INVALID' // the configured persistent handle holds a key that is not a TPM-resident P-256 signing key
  | 'AGENT_STOPPING' // SIGTERM: the update stopped at a safe point (checkpointed) and resumes at the next start

export class AgentError extends CodedError<AgentErrorCode> {}

export const isAgentError = (e: unknown, code?: AgentErrorCode): e is AgentError =>
  e instanceof AgentError && (code === undefined || e.code === code)

/** The `reason` of a failure report: a stable code from any of the three error trees. */
export interface Reason {
  code: string
  message: string
}

/** Map any thrown value to a reportable reason; unknown errors keep their message under `AGENT_INTERNAL`. */
export function reasonOf(e: unknown): Reason {
  const err = e as { code?: unknown; message?: unknown; name?: unknown }
  // every agent tree (CodedError), and the signing library's TrustError (signing/ keeps its own base)
  const named = e instanceof CodedError || (err && String(err.name) === 'TrustError')
  if (named && typeof err.code === 'string') return { code: err.code, message: String(err.message).slice(0, 1000) }
  const errno = err && typeof err.code === 'string' ? err.code : undefined
  if (errno === 'ENOSPC' || errno === 'EFBIG' || errno === 'EDQUOT') return { code: 'SLOT_NO_SPACE', message: String(err.message).slice(0, 1000) }
  return { code: 'AGENT_INTERNAL', message: String(err?.message ?? e).slice(0, 1000) }
}

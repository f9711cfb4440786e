/** What every step of an update works with: built once by `createAgent`. */
import type { AgentConfig } from '../config/agent-config.js'
import type { Journal } from '../journal/journal.js'
import type { Log } from '../log.js'
import type { DeviceApi } from '../net/device-api.js'
import type { HttpClient } from '../net/http-client.js'
import type { Reporter } from '../report/reporter.js'
import type { SlotAdapter } from '../slots/index.js'

export interface UpdateContext {
  config: AgentConfig
  journal: Journal
  slots: SlotAdapter
  http: HttpClient
  api: DeviceApi
  reporter: Reporter
  log: Log
  /** folder for staged patches and applier progress */
  stagingDir: string
  /** aborted on SIGTERM: steps stop at the next safe point (AGENT_STOPPING) */
  stop?: AbortSignal
  /** bytes of the current download so far, for `status` and progress events */
  progress?: (offset: number, total: number) => void
}

/** What a step of the agent ended with. */
export type StepOutcome =
  | 'idle' // nothing to do
  | 'installed' // the inactive slot is verified and marked to try; a reboot follows
  | 'reboot-issued' // the reboot command ran; the process should expect to be stopped
  | 'committed'
  | 'rolled-back'
  | 'failed'
  | 'retry-later' // a transient error (network, server): the update stays where it is

/**
 * The agent's durable state: what is installed, the last accepted assignment
 * counter, and the one update in progress with the last step that finished.
 * Every change is one atomic file replace (temp + fsync + rename + folder
 * fsync), so after SIGKILL or power loss at any point the agent reads back
 * either the step before or the step after, and resumes from there.
 */
import type { Delta, Release } from '../../../signing/verify/index.js'
import { AgentError, type Reason } from '../errors.js'
import { readJson, writeJsonDurable } from './atomic-file.js'

/**
 * Steps of one update, in order. A step is written only after its work is
 * durable (slot data fsynced before `written`, bootloader env written before
 * `marked-try`), so a resumed agent never trusts work that may be lost.
 */
export const UPDATE_STEPS = [
  'accepted', // metadata verified, counter recorded; nothing written yet
  'downloading', // writing the inactive slot (or staging a patch); `download` says how far
  'written', // every byte is in the inactive slot and synced; not yet checked
  'verified', // the slot's image hashes to the CI-signed release sha256
  'marked-try', // the bootloader will try the inactive slot on the next boot only
  'rebooting', // the reboot command was issued
  'health-checking', // running on the new slot, checks running
  'committed', // terminal: new slot marked good, `succeeded` reported
  'rolled-back', // terminal: back on the old slot after a try
  'failed', // terminal: failed before marked-try; the active slot was never touched
] as const
export type UpdateStep = (typeof UPDATE_STEPS)[number]

export const TERMINAL_STEPS: ReadonlySet<UpdateStep> = new Set(['committed', 'rolled-back', 'failed'])

/** What runs now (OS image) or is live (model), as CI signed it. */
export interface Installed {
  name: string
  version: string
  sha256: string
  securityVersion: number
}

/** The `Installed` record of a release. */
export const installedOf = (r: Pick<Release, 'name' | 'version' | 'sha256' | 'securityVersion'>): Installed => ({ name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion })

export type InstallMode = 'full' | 'delta' | 'slot-switch'

export interface UpdateRecord {
  /** random id of this attempt; event ids derive from it */
  id: string
  step: UpdateStep
  counter: number
  rolloutId: string
  action: 'install' | 'rollback'
  release: Release
  delta?: Delta
  /** how the target gets into its slot: downloaded whole, rebuilt from a delta, or already there (slot-switch) */
  mode: InstallMode
  /** the hash of the slot that claimed to hold the target, done before switching to it (or falling back to a download) */
  slotCheck?: { slot: string; sha256: string; matched: boolean; at: string }
  artifact: { url: string; length: number }
  patch?: { url: string; length: number }
  /** slot being written (OS) or model slot */
  targetSlot?: string
  /** slot that was active when the update was accepted */
  fromSlot?: string
  /** bytes durably written and the validator they came with (RFC 7233 If-Range) */
  download?: { offset: number; etag?: string }
  reason?: Reason
  /** the terminal state's event is queued in the outbox (set after queueing, so a crash re-queues the same id) */
  reported?: boolean
  /** ticks that ended in a transient error (network, 5xx) */
  attempts?: number
  /** ISO time of the last step change */
  at: string
}

export interface JournalState {
  format: 1
  /** counter of the last assignment accepted (ASSIGNMENT_REPLAY below it) */
  lastCounter?: number
  /** ETag of the last poll answer, sent as If-None-Match */
  pollEtag?: string
  /** `<etag>|<code>` of the last offer refused, so one refusal is reported once */
  rejected?: string
  /** the committed OS image */
  os?: Installed
  /** live models by release name */
  models: Record<string, Installed>
  /**
   * What each OS slot holds, as last verified (the release it was hashed against).
   * A claim is dropped the moment the slot is opened for writing and set again once
   * the slot is verified, so it never names a half-written slot. It is only a hint:
   * a slot-switch re-hashes the slot before trusting it.
   */
  slots?: Partial<Record<string, Installed>>
  /** highest securityVersion ever committed (anti-rollback floor) */
  securityVersion: number
  update?: UpdateRecord
}

const EMPTY: JournalState = { format: 1, models: {}, securityVersion: 0 }

export class Journal {
  #state: JournalState

  private constructor(
    readonly path: string,
    state: JournalState,
  ) {
    this.#state = state
  }

  /** Load the journal at `path`, or start an empty one (nothing written until the first change). */
  static async open(path: string): Promise<Journal> {
    let state: JournalState | undefined
    try {
      state = await readJson<JournalState>(path)
    } catch (e) {
      throw new AgentError('JOURNAL_CORRUPT', `journal ${path} is not JSON`, { path }, { cause: e })
    }
    if (state !== undefined && (state.format !== 1 || typeof state.models !== 'object' || typeof state.securityVersion !== 'number'))
      throw new AgentError('JOURNAL_CORRUPT', `journal ${path} has an unknown shape`, { path })
    return new Journal(path, state ?? structuredClone(EMPTY))
  }

  get state(): Readonly<JournalState> {
    return this.#state
  }

  get update(): Readonly<UpdateRecord> | undefined {
    return this.#state.update
  }

  /** Apply `change` to a copy and make it durable; memory follows only after the disk does. */
  async change(change: (s: JournalState) => void): Promise<void> {
    const next = structuredClone(this.#state)
    change(next)
    await writeJsonDurable(this.path, next)
    this.#state = next
  }

  /** Move the update in progress to `step` (and merge `fields`). */
  async step(step: UpdateStep, fields: Partial<UpdateRecord> = {}): Promise<void> {
    await this.change((s) => {
      if (!s.update) throw new Error('no update in progress')
      Object.assign(s.update, fields, { step, at: new Date().toISOString() })
    })
  }
}

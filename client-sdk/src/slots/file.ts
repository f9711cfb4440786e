/**
 * File-backed slots for the simulator and the end-to-end tests: each slot is a plain
 * file, and a small JSON state file plays the bootloader environment. `bootFileSlots`
 * is the simulated firmware: the simulator calls it on every "power on", before it
 * starts the agent, exactly as U-Boot or GRUB would run before Linux.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-write.js'
import { SlotError } from './errors.js'
import { isSlotName, type SlotAdapter, type SlotName, type SlotStatus } from './port.js'
import { inactiveOf, planCommit, planMarkTry, planRollback } from './transitions.js'

export interface FileSlotsOptions {
  /** folder holding `state.json` and, unless `slotPaths` says otherwise, `slot-a.img` / `slot-b.img` */
  dir: string
  /** file each slot's image is written to; default <dir>/slot-<s>.img */
  slotPaths?: Record<SlotName, string>
  /** argv the agent runs to "reboot" (the simulator's restart hook); required: there is no real reboot */
  rebootCommand: string[]
}

/** The simulated bootloader environment (state.json). */
export interface FileSlotsState {
  version: 1
  /** committed slot */
  active: SlotName
  /** trial to boot once */
  trying?: SlotName
  /** set by the simulated firmware when it starts the trial boot */
  trialStarted?: boolean
  /** what the last simulated boot booted */
  booted: SlotName
}

const statePath = (dir: string) => join(dir, 'state.json')

export async function readFileSlotsState(dir: string): Promise<FileSlotsState> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(statePath(dir), 'utf8'))
  } catch (e) {
    throw new SlotError('SLOT_ENV_CORRUPT', `cannot read ${statePath(dir)}: ${(e as Error).message}`, { dir }, { cause: e })
  }
  const s = raw as Partial<FileSlotsState>
  if (s.version !== 1 || !isSlotName(s.active) || !isSlotName(s.booted) || (s.trying !== undefined && !isSlotName(s.trying))) {
    throw new SlotError('SLOT_ENV_CORRUPT', `${statePath(dir)} is not a slot state file`, { dir })
  }
  return s as FileSlotsState
}

const writeState = (dir: string, s: FileSlotsState) => writeFileAtomic(statePath(dir), JSON.stringify(s) + '\n')

/** Create the state of a freshly provisioned device (slot `active` committed and booted) when there is none. */
export async function initFileSlots(dir: string, active: SlotName = 'a'): Promise<void> {
  const exists = await readFile(statePath(dir)).then(() => true, () => false)
  if (!exists) await writeState(dir, { version: 1, active, booted: active })
}

/**
 * The simulated firmware's boot: a pending trial is booted once; a trial that was
 * already started and not committed is dropped (the fallback); otherwise the active
 * slot. Returns the slot booted.
 */
export async function bootFileSlots(dir: string): Promise<SlotName> {
  const s = await readFileSlotsState(dir)
  let next: FileSlotsState
  if (s.trying !== undefined && !s.trialStarted) next = { version: 1, active: s.active, trying: s.trying, trialStarted: true, booted: s.trying }
  else next = { version: 1, active: s.active, booted: s.active }
  await writeState(dir, next)
  return next.booted
}

export class FileSlotAdapter implements SlotAdapter {
  readonly kind = 'file' as const

  constructor(private readonly opts: FileSlotsOptions) {
    if (opts.rebootCommand.length === 0) throw new SlotError('SLOT_BAD_CONFIG', 'rebootCommand must not be empty')
  }

  async status(): Promise<SlotStatus> {
    const s = await readFileSlotsState(this.opts.dir)
    return s.trying !== undefined ? { booted: s.booted, active: s.active, trying: s.trying } : { booted: s.booted, active: s.active }
  }

  async inactive(): Promise<SlotName> {
    return inactiveOf(await this.status())
  }

  slotPath(slot: SlotName): string {
    return this.opts.slotPaths?.[slot] ?? join(this.opts.dir, `slot-${slot}.img`)
  }

  async markTry(slot: SlotName): Promise<void> {
    const s = await readFileSlotsState(this.opts.dir)
    if (planMarkTry(toStatus(s), slot) === 'noop') return
    await writeState(this.opts.dir, { version: 1, active: s.active, trying: slot, booted: s.booted })
  }

  async commit(): Promise<void> {
    const s = await readFileSlotsState(this.opts.dir)
    if (planCommit(toStatus(s)) === 'noop') return
    await writeState(this.opts.dir, { version: 1, active: s.booted, booted: s.booted })
  }

  async rollback(): Promise<void> {
    const s = await readFileSlotsState(this.opts.dir)
    if (planRollback(toStatus(s)) === 'noop') return
    await writeState(this.opts.dir, { version: 1, active: s.active, booted: s.booted })
  }

  async rebootCommand(): Promise<string[]> {
    return [...this.opts.rebootCommand]
  }
}

const toStatus = (s: FileSlotsState): SlotStatus => (s.trying !== undefined ? { booted: s.booted, active: s.active, trying: s.trying } : { booted: s.booted, active: s.active })

/**
 * Which slot the running system booted from, read from the kernel command line
 * (`/proc/cmdline`): the bootloader snippets pass `slipway.slot=a|b`; without it the
 * `root=` argument is matched against the configured per-slot values (e.g.
 * `/dev/mmcblk0p2`, `PARTUUID=…-02`).
 */
import { readFile } from 'node:fs/promises'
import { SlotError } from './errors.js'
import { isSlotName, type SlotName } from './port.js'

export interface BootedProbeOptions {
  /** kernel command line file; default /proc/cmdline */
  cmdlinePath?: string
  /** `root=` value of each slot, used when the cmdline has no `slipway.slot=` */
  rootArgs?: Partial<Record<SlotName, string>>
}

export function parseBootedSlot(cmdline: string, rootArgs: Partial<Record<SlotName, string>> = {}): SlotName | undefined {
  const args = cmdline.trim().split(/\s+/)
  // the kernel takes the last occurrence of a repeated argument; so do we
  for (const arg of [...args].reverse()) {
    if (arg.startsWith('slipway.slot=')) {
      const v = arg.slice('slipway.slot='.length)
      if (isSlotName(v)) return v
      throw new SlotError('SLOT_BOOTED_UNKNOWN', `kernel command line has slipway.slot=${v}, expected a or b`)
    }
  }
  const root = [...args].reverse().find((a) => a.startsWith('root='))?.slice(5)
  if (root === undefined) return undefined
  for (const slot of ['a', 'b'] as const) if (rootArgs[slot] === root) return slot
  return undefined
}

export async function readBootedSlot(opts: BootedProbeOptions): Promise<SlotName | undefined> {
  const path = opts.cmdlinePath ?? '/proc/cmdline'
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new SlotError('SLOT_BOOTED_UNKNOWN', `cannot read ${path}: ${(e as Error).message}`, { path }, { cause: e })
  }
  return parseBootedSlot(text, opts.rootArgs)
}

export async function requireBootedSlot(opts: BootedProbeOptions): Promise<SlotName> {
  const slot = await readBootedSlot(opts)
  if (slot === undefined) {
    throw new SlotError(
      'SLOT_BOOTED_UNKNOWN',
      `cannot tell the booted slot from ${opts.cmdlinePath ?? '/proc/cmdline'}: add slipway.slot=a|b to the kernel command line or configure rootArgs`,
    )
  }
  return slot
}

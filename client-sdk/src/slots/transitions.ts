/**
 * The idempotency rules every adapter shares: given `status()`, decide whether a
 * call has work to do, is already done (a repeat after a crash), or is wrong.
 * Adapters call these first and only write the bootloader state on 'apply'.
 */
import { SlotError } from './errors.js'
import { otherSlot, type SlotName, type SlotStatus } from './port.js'

export type Plan = 'apply' | 'noop'

export function inactiveOf(s: SlotStatus): SlotName {
  if (s.booted !== s.active) {
    throw new SlotError('SLOT_NOT_COMMITTED', `running slot ${s.booted} is not committed (active is ${s.active}): commit or roll back first`, { ...s })
  }
  return otherSlot(s.booted)
}

export function planMarkTry(s: SlotStatus, slot: SlotName): Plan {
  if (s.trying === slot) return 'noop'
  const inactive = inactiveOf(s)
  if (slot !== inactive) throw new SlotError('SLOT_WRONG_STATE', `cannot try slot ${slot}: it is the booted slot`, { ...s, slot })
  return 'apply'
}

export function planCommit(s: SlotStatus): Plan {
  if (s.trying === undefined && s.booted === s.active) return 'noop'
  if (s.trying !== undefined && s.booted === s.trying) return 'apply'
  throw new SlotError(
    'SLOT_WRONG_STATE',
    s.trying === undefined
      ? `cannot commit: booted slot ${s.booted} is neither active nor a trial`
      : `cannot commit: trial slot ${s.trying} has not been booted (booted ${s.booted})`,
    { ...s },
  )
}

export function planRollback(s: SlotStatus): Plan {
  return s.trying === undefined ? 'noop' : 'apply'
}

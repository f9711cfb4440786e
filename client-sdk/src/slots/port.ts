/**
 * The slot port: the one interface the agent uses to flip an A/B boot target,
 * whatever the bootloader (U-Boot env, GRUB env, Raspberry Pi tryboot, plain files).
 *
 * Crash safety: every method is idempotent and `status()` alone says where a device
 * is, so an agent killed between any two calls (or by a power cut inside one) only
 * has to call `status()` after restart and continue:
 *
 * | status                                        | meaning                                          |
 * |-----------------------------------------------|--------------------------------------------------|
 * | `trying` unset, `booted === active`           | steady state; `inactive()` may be written         |
 * | `trying` set, `booted === active`             | trial pending: the next boot tries `trying`       |
 * | `trying` set, `booted === trying`             | trial boot in progress: health-check, then commit or roll back |
 * | `trying` unset after a reboot into a trial    | the trial failed and the bootloader fell back     |
 */

export type SlotName = 'a' | 'b'

export const SLOT_NAMES: readonly SlotName[] = ['a', 'b']

/** The other slot of the pair. */
export const otherSlot = (s: SlotName): SlotName => (s === 'a' ? 'b' : 'a')

export const isSlotName = (v: unknown): v is SlotName => v === 'a' || v === 'b'

export interface SlotStatus {
  /** the slot the running system booted from */
  booted: SlotName
  /** the committed slot: what the device boots when no trial is pending */
  active: SlotName
  /** set while a trial boot is pending (not yet rebooted) or in progress (`booted === trying`) */
  trying?: SlotName
}

export type SlotAdapterKind = 'uboot' | 'grub' | 'tryboot' | 'file'

export interface SlotAdapter {
  readonly kind: SlotAdapterKind
  /** Where the device is; reads the bootloader state, never changes it. */
  status(): Promise<SlotStatus>
  /**
   * The slot an update may be written to: the one not booted. Throws
   * SLOT_NOT_COMMITTED while running an uncommitted trial (its other slot is the
   * only good fallback), so commit or roll back first.
   */
  inactive(): Promise<SlotName>
  /** Block device or file the image for `slot` is written to. */
  slotPath(slot: SlotName): string
  /**
   * Boot `slot` once on the next reboot; if that boot fails (or is not committed
   * before the next reboot) the bootloader falls back to the active slot by itself.
   * No-op when `slot` is already the pending trial. `slot` must be the inactive slot.
   */
  markTry(slot: SlotName): Promise<void>
  /** The booted trial slot becomes the active one. No-op when already committed. */
  commit(): Promise<void>
  /** Cancel a pending or running trial: the next boot is the active slot. No-op without a trial. */
  rollback(): Promise<void>
  /**
   * argv that reboots into the next boot `status()` implies: the pending trial, else
   * the active slot. A trial is booted at most once: rebooting a running trial without
   * commit falls back to the active slot, on every adapter.
   */
  rebootCommand(): Promise<string[]>
}

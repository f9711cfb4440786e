/**
 * What the bootloader adapters (U-Boot, GRUB, tryboot) share: each slot is a block
 * device (or file) named in the options, the booted slot is read from the kernel
 * command line, and the slot an update may be written to follows from `status()`.
 * Each adapter keeps only what its bootloader does differently: where the state lives
 * and how markTry / commit / rollback write it.
 */
import type { BootedProbeOptions } from './booted.js'
import type { SlotAdapter, SlotAdapterKind, SlotName, SlotStatus } from './port.js'
import { inactiveOf } from './transitions.js'

export interface PartitionSlotsOptions extends BootedProbeOptions {
  /** block device (or file) each slot's image is written to */
  slotPaths: Record<SlotName, string>
}

export abstract class PartitionSlotAdapter<O extends PartitionSlotsOptions> implements SlotAdapter {
  abstract readonly kind: SlotAdapterKind

  constructor(protected readonly opts: O) {}

  abstract status(): Promise<SlotStatus>
  abstract markTry(slot: SlotName): Promise<void>
  abstract commit(): Promise<void>
  abstract rollback(): Promise<void>
  abstract rebootCommand(): Promise<string[]>

  async inactive(): Promise<SlotName> {
    return inactiveOf(await this.status())
  }

  slotPath(slot: SlotName): string {
    return this.opts.slotPaths[slot]
  }

  /** The kernel command line probe; without `rootArgs` a `root=` is matched against the slot paths. */
  protected get bootedProbe(): BootedProbeOptions {
    return { cmdlinePath: this.opts.cmdlinePath, rootArgs: this.opts.rootArgs ?? this.opts.slotPaths }
  }
}

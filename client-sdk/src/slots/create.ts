/** One config value → one adapter, so the agent's config can name the bootloader. */
import { FileSlotAdapter, type FileSlotsOptions } from './file.js'
import { GrubAdapter, type GrubAdapterOptions } from './grub.js'
import type { SlotAdapter } from './port.js'
import { TrybootAdapter, type TrybootAdapterOptions } from './tryboot.js'
import { UBootAdapter, type UBootAdapterOptions } from './uboot.js'

export type SlotAdapterConfig =
  | ({ kind: 'uboot' } & UBootAdapterOptions)
  | ({ kind: 'grub' } & GrubAdapterOptions)
  | ({ kind: 'tryboot' } & TrybootAdapterOptions)
  | ({ kind: 'file' } & FileSlotsOptions)

export function createSlotAdapter(config: SlotAdapterConfig): SlotAdapter {
  switch (config.kind) {
    case 'uboot':
      return new UBootAdapter(config)
    case 'grub':
      return new GrubAdapter(config)
    case 'tryboot':
      return new TrybootAdapter(config)
    case 'file':
      return new FileSlotAdapter(config)
  }
}

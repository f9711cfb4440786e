/**
 * Reading and editing the Raspberry Pi `autoboot.txt` (on the small FAT boot-selector
 * partition): the firmware reads `boot_partition=` from `[all]`, and from `[tryboot]`
 * when the one-shot tryboot flag is set (`reboot '0 tryboot'`). `tryboot_a_b=1` in
 * `[all]` makes that flag select the partition. Lines the agent does not own are kept.
 */
import { SlotError } from './errors.js'

export interface AutobootPartitions {
  /** boot_partition of [all]: booted normally */
  all: number
  /** boot_partition of [tryboot]: booted after `reboot '0 tryboot'`; = all when the section is missing */
  tryboot: number
}

const SECTION = /^\s*\[([^\]]+)\]\s*$/
const BOOT_PARTITION = /^\s*boot_partition\s*=\s*(\S*)\s*$/

export function parseAutoboot(text: string): AutobootPartitions {
  const found: Record<string, number> = {}
  let section = 'all'
  for (const line of text.split(/\r?\n/)) {
    const s = SECTION.exec(line)
    if (s) {
      section = s[1]!.trim().toLowerCase()
      continue
    }
    const m = BOOT_PARTITION.exec(line)
    if (m && (section === 'all' || section === 'tryboot')) {
      const n = Number(m[1])
      if (!Number.isInteger(n) || n < 1) throw new SlotError('SLOT_ENV_CORRUPT', `autoboot.txt: boot_partition=${m[1]} in [${section}] is not a partition number`)
      found[section] = n
    }
  }
  if (found.all === undefined) throw new SlotError('SLOT_ENV_CORRUPT', 'autoboot.txt has no boot_partition= in [all]')
  return { all: found.all, tryboot: found.tryboot ?? found.all }
}

/** `text` with the boot_partition of `section` set to `partition` (section added when missing). */
export function setBootPartition(text: string, section: 'all' | 'tryboot', partition: number): string {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/)
  let current = 'all'
  let sectionStart = -1
  for (let i = 0; i < lines.length; i++) {
    const s = SECTION.exec(lines[i]!)
    if (s) {
      current = s[1]!.trim().toLowerCase()
      if (current === section) sectionStart = i
      continue
    }
    if (current === section && BOOT_PARTITION.test(lines[i]!)) {
      lines[i] = `boot_partition=${partition}`
      return lines.join('\n') + '\n'
    }
  }
  if (sectionStart >= 0) lines.splice(sectionStart + 1, 0, `boot_partition=${partition}`)
  else lines.push(`[${section}]`, `boot_partition=${partition}`)
  return lines.join('\n') + '\n'
}

/** The layout the agent writes on first setup: slot a active, tryboot selects the partition. */
export const initialAutoboot = (allPartition: number) => `[all]\ntryboot_a_b=1\nboot_partition=${allPartition}\n[tryboot]\nboot_partition=${allPartition}\n`

/**
 * What the Raspberry Pi 4/5 bootloader does on a boot with an A/B autoboot.txt: read
 * autoboot.txt from the boot-selector partition; if this boot was requested with
 * `reboot '0 tryboot'` (a one-shot flag kept by the firmware, not on disk) use the
 * `[tryboot]` section, else `[all]`; boot that partition, whose cmdline.txt names the
 * slot; expose the flag in /proc/device-tree/chosen/bootloader/tryboot (a big-endian
 * u32). The firmware never writes autoboot.txt. A new boot gets a new boot id.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SlotName } from '../../../client-sdk/src/slots/index.js'

export interface TrybootRig {
  dir: string
  autobootPath: string
  trybootFlagPath: string
  bootIdPath: string
  cmdlinePath: string
  partitions: Record<SlotName, number>
}

export function makeTrybootRig(dir: string): TrybootRig {
  mkdirSync(join(dir, 'selector'), { recursive: true })
  return {
    dir,
    autobootPath: join(dir, 'selector', 'autoboot.txt'),
    trybootFlagPath: join(dir, 'tryboot-flag'),
    bootIdPath: join(dir, 'boot_id'),
    cmdlinePath: join(dir, 'cmdline'),
    partitions: { a: 2, b: 3 },
  }
}

/** Firmware's reading of autoboot.txt: boot_partition of one section (default [all]'s). */
function bootPartition(text: string, section: 'all' | 'tryboot'): number | undefined {
  let current = 'all'
  let found: number | undefined
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line.trim())
    if (s) current = s[1]!.toLowerCase()
    else if (current === section) {
      const m = /^boot_partition=(\d+)$/.exec(line.trim())
      if (m) found = Number(m[1])
    }
  }
  return found
}

/**
 * One power-on; `tryboot` = the reboot carried the tryboot flag. A `failing` slot dies
 * before userspace and the watchdog resets the board — without the flag.
 */
export function bootPi(rig: TrybootRig, tryboot: boolean, failing: ReadonlySet<SlotName> = new Set()): SlotName {
  for (let reset = 0; reset < 5; reset++, tryboot = false) {
    const text = readFileSync(rig.autobootPath, 'utf8')
    const all = bootPartition(text, 'all')
    const partition = (tryboot ? bootPartition(text, 'tryboot') : undefined) ?? all
    const slot = (['a', 'b'] as const).find((s) => rig.partitions[s] === partition)
    if (!slot) throw new Error(`tryboot emulator: boot_partition=${partition} is no slot`)
    if (failing.has(slot)) continue
    const flag = Buffer.alloc(4)
    flag.writeUInt32BE(tryboot ? 1 : 0)
    writeFileSync(rig.trybootFlagPath, flag)
    writeFileSync(rig.bootIdPath, randomUUID() + '\n')
    writeFileSync(rig.cmdlinePath, `console=serial0,115200 root=/dev/mmcblk0p${partition! + 3} rootwait slipway.slot=${slot}\n`)
    return slot
  }
  throw new Error('tryboot emulator: no slot boots')
}

/** The tryboot flag is set by `reboot '0 tryboot'` (the argument goes to the firmware). */
export const isTrybootReboot = (argv: readonly string[]) => argv[0] === 'reboot' && argv[1] === '0 tryboot'

/**
 * What U-Boot does on a boot, on the same environment file through the same real
 * tools (fw_printenv/fw_setenv) the adapter uses — U-Boot's bootcount logic
 * (CONFIG_BOOTCOUNT_LIMIT with CONFIG_BOOTCOUNT_ENV) plus the altbootcmd a Slipway
 * board env defines:
 *
 *   if upgrade_available=1: bootcount += 1 (saved)
 *   if upgrade_available=1 and bootcount > bootlimit: run altbootcmd
 *       altbootcmd = "setenv slipway_slot <other>; setenv upgrade_available 0; setenv bootcount 0; saveenv; run bootcmd"
 *   bootcmd boots ${slipway_slot} with `slipway.slot=<slot>` on the kernel command line
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { otherSlot, type SlotName } from '../../../client-sdk/src/slots/index.js'

export interface UBootRig {
  dir: string
  configFile: string
  envFiles: string[]
  cmdlinePath: string
  slotVariable: string
  slotValues: Record<SlotName, string>
}

/** A fresh, CRC-valid (redundant) environment made by fw_setenv itself from a defaults file. */
export function makeUBootEnv(dir: string, opts: { active?: SlotName; slotVariable?: string; slotValues?: Record<SlotName, string>; redundant?: boolean } = {}): UBootRig {
  const slotVariable = opts.slotVariable ?? 'slipway_slot'
  const slotValues = opts.slotValues ?? { a: 'a', b: 'b' }
  const envFiles = opts.redundant === false ? [join(dir, 'uboot.env')] : [join(dir, 'uboot.env'), join(dir, 'uboot-redund.env')]
  for (const f of envFiles) writeFileSync(f, Buffer.alloc(0x4000))
  const configFile = join(dir, 'fw_env.config')
  writeFileSync(configFile, envFiles.map((f) => `${f} 0x0 0x4000\n`).join(''))
  const defaults = join(dir, 'defaults.txt')
  writeFileSync(defaults, `bootcmd=run slipway_boot\nbootlimit=1\nbootcount=0\nupgrade_available=0\n${slotVariable}=${slotValues[opts.active ?? 'a']}\n`)
  // with no valid copy, fw_setenv starts from -f defaults and writes a CRC-valid env
  execFileSync('fw_setenv', ['-c', configFile, '-f', defaults, 'bootcount', '0'], { stdio: 'pipe' })
  const rig = { dir, configFile, envFiles, cmdlinePath: join(dir, 'cmdline'), slotVariable, slotValues }
  bootUBoot(rig)
  return rig
}

export function printenv(rig: UBootRig): Record<string, string> {
  const out = execFileSync('fw_printenv', ['-c', rig.configFile], { encoding: 'utf8' })
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

function saveenv(rig: UBootRig, vars: Record<string, string>): void {
  const tmp = mkdtempSync(join(tmpdir(), 'uboot-emu-'))
  try {
    writeFileSync(join(tmp, 's'), Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''))
    execFileSync('fw_setenv', ['-c', rig.configFile, '-s', join(tmp, 's')], { stdio: 'pipe' })
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * One power-on. `failing` slots crash before userspace (kernel panic → watchdog reset),
 * so U-Boot runs again, as on hardware; at most 5 resets. Returns the slot that came up.
 */
export function bootUBoot(rig: UBootRig, failing: ReadonlySet<SlotName> = new Set()): SlotName {
  for (let reset = 0; reset < 5; reset++) {
    const env = printenv(rig)
    if (env.upgrade_available === '1') {
      const count = Number(env.bootcount ?? '0') + 1
      saveenv(rig, { bootcount: String(count) })
      if (count > Number(env.bootlimit ?? '1')) {
        const current = slotOf(rig, env[rig.slotVariable])
        saveenv(rig, { [rig.slotVariable]: rig.slotValues[otherSlot(current)], upgrade_available: '0', bootcount: '0' })
      }
    }
    const slot = slotOf(rig, printenv(rig)[rig.slotVariable])
    if (failing.has(slot)) continue
    writeFileSync(rig.cmdlinePath, `console=ttyS0 root=/dev/mmcblk0p${slot === 'a' ? 2 : 3} rootwait slipway.slot=${slot}\n`)
    return slot
  }
  throw new Error('U-Boot emulator: no slot boots')
}

function slotOf(rig: UBootRig, value: string | undefined): SlotName {
  if (value === rig.slotValues.a) return 'a'
  if (value === rig.slotValues.b) return 'b'
  throw new Error(`U-Boot emulator: ${rig.slotVariable}=${value} boots nothing`)
}

/**
 * What GRUB does on a boot with client-sdk/src/slots/grub-slipway.cfg, step for step,
 * on the same grubenv file through the real grub-editenv (load_env = list,
 * save_env = set). The snippet itself is syntax-checked with grub-script-check in
 * the adapter test; keep the two in step.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SlotName } from '../../../client-sdk/src/slots/index.js'

export interface GrubRig {
  dir: string
  envFile: string
  cmdlinePath: string
}

export function makeGrubEnv(dir: string, active: SlotName = 'a'): GrubRig {
  const envFile = join(dir, 'grubenv')
  execFileSync('grub-editenv', [envFile, 'create'])
  execFileSync('grub-editenv', [envFile, 'set', `slipway_slot=${active}`])
  const rig = { dir, envFile, cmdlinePath: join(dir, 'cmdline') }
  bootGrub(rig)
  return rig
}

export function loadEnv(rig: GrubRig): Record<string, string> {
  const out = execFileSync('grub-editenv', [rig.envFile, 'list'], { encoding: 'utf8' })
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

const saveEnv = (rig: GrubRig, vars: Record<string, string>) =>
  execFileSync('grub-editenv', [rig.envFile, 'set', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)])

/** One power-on; a `failing` slot dies before userspace and the machine resets. Returns the slot that came up. */
export function bootGrub(rig: GrubRig, failing: ReadonlySet<SlotName> = new Set()): SlotName {
  for (let reset = 0; reset < 5; reset++) {
    const env = loadEnv(rig)
    const slot: SlotName = env.slipway_slot === 'b' ? 'b' : 'a'
    let boot: SlotName = slot
    const trial = env.slipway_try ?? ''
    if (trial !== '') {
      if (env.slipway_trying === '1') saveEnv(rig, { slipway_try: '', slipway_trying: '' })
      else {
        saveEnv(rig, { slipway_trying: '1' })
        boot = trial === 'b' ? 'b' : 'a'
      }
    }
    if (failing.has(boot)) continue
    writeFileSync(rig.cmdlinePath, `BOOT_IMAGE=/boot/vmlinuz root=PARTUUID=00000000-0000-0000-0000-00000000000${boot} ro rootwait slipway.slot=${boot}\n`)
    return boot
  }
  throw new Error('GRUB emulator: no slot boots')
}

/**
 * GRUB adapter: a grubenv file edited with grub-editenv, consumed at boot by the
 * one-shot snippet `grub-slipway.cfg` (shipped next to this file):
 *
 * - `slipway_slot`: the committed slot (`a` | `b`);
 * - `slipway_try`: a slot to boot once (empty: no trial);
 * - `slipway_trying`: set to 1 by GRUB when it starts the trial boot; a boot that
 *   finds it already set means the trial never committed, so GRUB clears the trial
 *   and boots `slipway_slot`.
 *
 * grub-editenv rewrites the file in place (truncate + write). To survive a power cut
 * mid-write the adapter edits a temp copy and renames it over the env file; GRUB reads
 * the file by path and its save_env writes into the file's own blocks, which a
 * renamed file has.
 */
import { copyFile, open, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsyncDir, tempSibling } from './atomic-write.js'
import { requireBootedSlot } from './booted.js'
import { SlotError } from './errors.js'
import { PartitionSlotAdapter, type PartitionSlotsOptions } from './partition-adapter.js'
import { isSlotName, type SlotName, type SlotStatus } from './port.js'
import { parseEnvLines, runTool, toolFailed } from './run-tool.js'
import { planCommit, planMarkTry, planRollback } from './transitions.js'

export interface GrubAdapterOptions extends PartitionSlotsOptions {
  /** the grubenv file the snippet load_env's; default /boot/grub/grubenv */
  envFile?: string
  /** default `grub-editenv` on PATH */
  grubEditenv?: string
  /** default ['systemctl', 'reboot'] */
  rebootCommand?: string[]
}

export const GRUB_VARS = { slot: 'slipway_slot', try: 'slipway_try', trying: 'slipway_trying' } as const

export class GrubAdapter extends PartitionSlotAdapter<GrubAdapterOptions> {
  readonly kind = 'grub' as const
  private readonly envFile: string

  constructor(opts: GrubAdapterOptions) {
    super(opts)
    this.envFile = opts.envFile ?? '/boot/grub/grubenv'
  }

  async readEnv(): Promise<Record<string, string>> {
    // grub-editenv lists a missing file as empty (exit 0): check it exists first
    const st = await stat(this.envFile).catch((e: unknown) => {
      throw new SlotError('SLOT_ENV_CORRUPT', `GRUB environment ${this.envFile} missing: create it with grub-editenv ${this.envFile} create`, { envFile: this.envFile }, { cause: e })
    })
    if (st.size !== 1024) throw new SlotError('SLOT_ENV_CORRUPT', `GRUB environment ${this.envFile} is ${st.size} bytes, not 1024`)
    const argv = [this.tool(), this.envFile, 'list']
    const r = await runTool(argv)
    if (r.code !== 0) {
      if (/invalid environment block/i.test(r.stderr)) throw new SlotError('SLOT_ENV_CORRUPT', `GRUB environment ${this.envFile} is not a valid environment block`)
      throw toolFailed(argv, r)
    }
    return parseEnvLines(r.stdout)
  }

  async status(): Promise<SlotStatus> {
    const env = await this.readEnv()
    const active = env[GRUB_VARS.slot]
    if (!isSlotName(active)) throw new SlotError('SLOT_STATE_INVALID', `${GRUB_VARS.slot}=${active ?? '(unset)'} is not a or b`)
    const trial = env[GRUB_VARS.try] ?? ''
    if (trial !== '' && !isSlotName(trial)) throw new SlotError('SLOT_STATE_INVALID', `${GRUB_VARS.try}=${trial} is not a, b or empty`)
    const booted = await requireBootedSlot(this.bootedProbe)
    return trial !== '' && trial !== active ? { booted, active, trying: trial } : { booted, active }
  }

  async markTry(slot: SlotName): Promise<void> {
    if (planMarkTry(await this.status(), slot) === 'noop') return
    await this.setEnv({ [GRUB_VARS.try]: slot, [GRUB_VARS.trying]: '' })
  }

  async commit(): Promise<void> {
    const s = await this.status()
    if (planCommit(s) === 'noop') return
    await this.setEnv({ [GRUB_VARS.slot]: s.booted, [GRUB_VARS.try]: '', [GRUB_VARS.trying]: '' })
  }

  async rollback(): Promise<void> {
    if (planRollback(await this.status()) === 'noop') return
    await this.setEnv({ [GRUB_VARS.try]: '', [GRUB_VARS.trying]: '' })
  }

  async rebootCommand(): Promise<string[]> {
    return this.opts.rebootCommand ?? ['systemctl', 'reboot']
  }

  /** Set variables in one write: grub-editenv on a temp copy, fsync, rename over. */
  async setEnv(vars: Record<string, string>): Promise<void> {
    const tmp = tempSibling(this.envFile)
    try {
      await copyFile(this.envFile, tmp)
      const argv = [this.tool(), tmp, 'set', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]
      const r = await runTool(argv)
      if (r.code !== 0) throw toolFailed(argv, r)
      const fd = await open(tmp, 'r+')
      try {
        await fd.sync()
      } finally {
        await fd.close()
      }
      await rename(tmp, this.envFile)
    } finally {
      await rm(tmp, { force: true })
    }
    await fsyncDir(dirname(this.envFile))
  }

  private tool(): string {
    return this.opts.grubEditenv ?? 'grub-editenv'
  }
}

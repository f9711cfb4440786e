/**
 * U-Boot adapter: the environment through fw_printenv / fw_setenv (libubootenv,
 * configured by a fw_env.config file), using U-Boot's boot counting:
 *
 * - `<slotVariable>`: the partition bootcmd boots (values per slot are configurable,
 *   e.g. `a`/`b` or `2`/`3`);
 * - `upgrade_available=1` makes U-Boot increment `bootcount` on every boot; once
 *   `bootcount > bootlimit` it runs `altbootcmd`, which must point `<slotVariable>` back
 *   to the other slot, set `upgrade_available=0` and boot it (see README);
 * - commit = `upgrade_available=0 bootcount=0`.
 *
 * So `upgrade_available=1` means "trial of `<slotVariable>`", and the active slot is the
 * other one. Every change is one fw_setenv call with a script (-s, `name=value` lines:
 * libubootenv 0.3.2 ignores the `name value` form), i.e. one environment write —
 * atomic when fw_env.config lists a redundant copy.
 */
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireBootedSlot } from './booted.js'
import { SlotError } from './errors.js'
import { PartitionSlotAdapter, type PartitionSlotsOptions } from './partition-adapter.js'
import { otherSlot, type SlotName, type SlotStatus } from './port.js'
import { parseEnvLines, runTool, toolFailed } from './run-tool.js'
import { planCommit, planMarkTry, planRollback } from './transitions.js'

export interface UBootAdapterOptions extends PartitionSlotsOptions {
  /** fw_env.config naming the environment device/file, offset, size (and a redundant copy); default /etc/fw_env.config */
  configFile?: string
  /** environment variable holding the partition to boot; default `slipway_slot` */
  slotVariable?: string
  /** value of `slotVariable` for each slot; default { a: 'a', b: 'b' } */
  slotValues?: Record<SlotName, string>
  /** boots a trial gets before altbootcmd falls back, written to `bootlimit` by markTry; default 1 */
  bootLimit?: number
  /** default `fw_printenv` / `fw_setenv` on PATH */
  fwPrintenv?: string
  fwSetenv?: string
  /** default ['systemctl', 'reboot'] */
  rebootCommand?: string[]
}

export type UBootEnv = Record<string, string>

export class UBootAdapter extends PartitionSlotAdapter<UBootAdapterOptions> {
  readonly kind = 'uboot' as const
  private readonly configFile: string
  private readonly slotVariable: string
  private readonly slotValues: Record<SlotName, string>
  private readonly bootLimit: number

  constructor(opts: UBootAdapterOptions) {
    super(opts)
    this.configFile = opts.configFile ?? '/etc/fw_env.config'
    this.slotVariable = opts.slotVariable ?? 'slipway_slot'
    this.slotValues = opts.slotValues ?? { a: 'a', b: 'b' }
    this.bootLimit = opts.bootLimit ?? 1
    if (this.slotValues.a === this.slotValues.b) throw new SlotError('SLOT_BAD_CONFIG', 'slotValues.a and slotValues.b must differ')
    if (!Number.isInteger(this.bootLimit) || this.bootLimit < 1) throw new SlotError('SLOT_BAD_CONFIG', 'bootLimit must be an integer ≥ 1')
  }

  /** The whole environment, as fw_printenv prints it. */
  async readEnv(): Promise<UBootEnv> {
    await this.checkConfig()
    const argv = [this.opts.fwPrintenv ?? 'fw_printenv', '-c', this.configFile]
    const r = await runTool(argv)
    if (r.code !== 0) {
      // libubootenv prints this when no copy passes its CRC (and refuses to go on without -f defaults)
      if (/Cannot read environment/i.test(r.stderr)) {
        throw new SlotError('SLOT_ENV_CORRUPT', `U-Boot environment unreadable (bad CRC or wrong fw_env.config ${this.configFile})`, { stderr: r.stderr.slice(-2000) })
      }
      throw toolFailed(argv, r)
    }
    return parseEnvLines(r.stdout)
  }

  async status(): Promise<SlotStatus> {
    const env = await this.readEnv()
    const value = env[this.slotVariable]
    const slot = (['a', 'b'] as const).find((s) => this.slotValues[s] === value)
    if (slot === undefined) {
      throw new SlotError('SLOT_STATE_INVALID', `${this.slotVariable}=${value ?? '(unset)'} is not ${this.slotValues.a} or ${this.slotValues.b}`)
    }
    const booted = await requireBootedSlot(this.bootedProbe)
    return env.upgrade_available === '1' ? { booted, active: otherSlot(slot), trying: slot } : { booted, active: slot }
  }

  async markTry(slot: SlotName): Promise<void> {
    if (planMarkTry(await this.status(), slot) === 'noop') return
    await this.setEnv({ [this.slotVariable]: this.slotValues[slot], upgrade_available: '1', bootcount: '0', bootlimit: String(this.bootLimit) })
  }

  async commit(): Promise<void> {
    if (planCommit(await this.status()) === 'noop') return
    await this.setEnv({ upgrade_available: '0', bootcount: '0' })
  }

  async rollback(): Promise<void> {
    const s = await this.status()
    if (planRollback(s) === 'noop') return
    await this.setEnv({ [this.slotVariable]: this.slotValues[s.active], upgrade_available: '0', bootcount: '0' })
  }

  async rebootCommand(): Promise<string[]> {
    return this.opts.rebootCommand ?? ['systemctl', 'reboot']
  }

  /** Set several variables in one environment write (fw_setenv -s script). */
  async setEnv(vars: Record<string, string>): Promise<void> {
    await this.checkConfig()
    const dir = await mkdtemp(join(tmpdir(), 'slipway-fwenv-'))
    try {
      const script = join(dir, 'script')
      await writeFile(script, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''))
      const argv = [this.opts.fwSetenv ?? 'fw_setenv', '-c', this.configFile, '-s', script]
      const r = await runTool(argv)
      if (r.code !== 0) {
        if (/Cannot read environment/i.test(r.stderr)) throw new SlotError('SLOT_ENV_CORRUPT', 'U-Boot environment unreadable: not written', { stderr: r.stderr.slice(-2000) })
        throw toolFailed(argv, r)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    // read back: a libubootenv that does not understand the script exits 0 and writes nothing
    const env = await this.readEnv()
    const missed = Object.keys(vars).filter((k) => env[k] !== vars[k])
    if (missed.length > 0) throw new SlotError('SLOT_TOOL_FAILED', `fw_setenv exited 0 but did not set ${missed.join(', ')}`, { missed })
  }

  private async checkConfig(): Promise<void> {
    try {
      await access(this.configFile)
    } catch (e) {
      throw new SlotError('SLOT_BAD_CONFIG', `fw_env.config ${this.configFile} not readable`, { configFile: this.configFile }, { cause: e })
    }
  }
}

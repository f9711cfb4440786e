/**
 * Raspberry Pi tryboot adapter (Pi 4/5 bootloader): `autoboot.txt` on the boot-selector
 * partition maps slots to boot partitions. `[all]` is the committed slot; `[tryboot]`
 * is what the next `reboot '0 tryboot'` boots, exactly once: the flag lives in the
 * firmware, not on disk, so any later reset (watchdog, power cut) boots `[all]` again.
 *
 * - markTry(s): `[tryboot] boot_partition=<s>`, and a marker with the current boot id;
 * - commit:     `[all] boot_partition=<booted>` (then `[tryboot]` equals `[all]`: no trial);
 * - rollback:   `[tryboot] boot_partition=<[all]>`.
 *
 * Because the firmware never writes anything, a trial that fell back leaves
 * `[tryboot]` ≠ `[all]`: the boot-id marker tells that apart from a trial still
 * pending (marked during this boot). A trial marked and then lost to an unplanned
 * reset before the tryboot reboot also reads as fallen back.
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from './atomic-write.js'
import { initialAutoboot, parseAutoboot, setBootPartition } from './autoboot-txt.js'
import { readBootedSlot } from './booted.js'
import { SlotError } from './errors.js'
import { PartitionSlotAdapter, type PartitionSlotsOptions } from './partition-adapter.js'
import { type SlotName, type SlotStatus } from './port.js'
import { planCommit, planMarkTry, planRollback } from './transitions.js'

export interface TrybootAdapterOptions extends PartitionSlotsOptions {
  /** autoboot.txt on the mounted boot-selector partition (partition 1), e.g. /boot/selector/autoboot.txt */
  autobootPath: string
  /** boot partition number of each slot; default { a: 2, b: 3 } */
  partitions?: Record<SlotName, number>
  /** non-empty and not 0 when this boot is a tryboot; default /proc/device-tree/chosen/bootloader/tryboot */
  trybootFlagPath?: string
  /** changes every boot; default /proc/sys/kernel/random/boot_id */
  bootIdPath?: string
  /** reboot into a pending trial; default ['reboot', '0 tryboot'] */
  trybootRebootCommand?: string[]
  /** any other reboot; default ['reboot'] */
  rebootCommand?: string[]
}

const MARKER = /^# slipway-try-boot-id=(\S+)$/m

export class TrybootAdapter extends PartitionSlotAdapter<TrybootAdapterOptions> {
  readonly kind = 'tryboot' as const
  private readonly partitions: Record<SlotName, number>

  constructor(opts: TrybootAdapterOptions) {
    super(opts)
    this.partitions = opts.partitions ?? { a: 2, b: 3 }
    if (this.partitions.a === this.partitions.b) throw new SlotError('SLOT_BAD_CONFIG', 'partitions.a and partitions.b must differ')
  }

  /** Write the initial autoboot.txt (slot `active` committed) when there is none. */
  async init(active: SlotName = 'a'): Promise<void> {
    const exists = await readFile(this.opts.autobootPath, 'utf8').then(() => true, () => false)
    if (!exists) await writeFileAtomic(this.opts.autobootPath, initialAutoboot(this.partitions[active]))
  }

  async status(): Promise<SlotStatus> {
    const text = await this.readAutoboot()
    const p = parseAutoboot(text)
    const active = this.slotOf(p.all, '[all]')
    const tb = this.slotOf(p.tryboot, '[tryboot]')
    const flag = await this.trybootFlag()
    const bootId = await this.bootId()
    // prefer the kernel command line; without it the flag says which section the firmware used
    const booted = (await readBootedSlot(this.bootedProbe).catch(() => undefined)) ?? (flag ? tb : active)
    if (tb === active) return { booted, active }
    const markedIn = MARKER.exec(text)?.[1]
    const live = booted === tb || markedIn === bootId
    return live ? { booted, active, trying: tb } : { booted, active }
  }

  async markTry(slot: SlotName): Promise<void> {
    if (planMarkTry(await this.status(), slot) === 'noop') return
    const text = setBootPartition(await this.readAutoboot(), 'tryboot', this.partitions[slot])
    await writeFileAtomic(this.opts.autobootPath, withMarker(text, await this.bootId()))
  }

  async commit(): Promise<void> {
    const s = await this.status()
    if (planCommit(s) === 'noop') return
    const text = setBootPartition(await this.readAutoboot(), 'all', this.partitions[s.booted])
    await writeFileAtomic(this.opts.autobootPath, withMarker(text, undefined))
  }

  async rollback(): Promise<void> {
    const s = await this.status()
    if (planRollback(s) === 'noop') return
    const text = setBootPartition(await this.readAutoboot(), 'tryboot', this.partitions[s.active])
    await writeFileAtomic(this.opts.autobootPath, withMarker(text, undefined))
  }

  /** `reboot '0 tryboot'` while a trial is pending (not yet booted), else the plain reboot: a trial boots once. */
  async rebootCommand(): Promise<string[]> {
    const s = await this.status()
    return s.trying !== undefined && s.booted !== s.trying ? (this.opts.trybootRebootCommand ?? ['reboot', '0 tryboot']) : (this.opts.rebootCommand ?? ['reboot'])
  }

  private async readAutoboot(): Promise<string> {
    try {
      return await readFile(this.opts.autobootPath, 'utf8')
    } catch (e) {
      throw new SlotError('SLOT_ENV_CORRUPT', `cannot read ${this.opts.autobootPath}: ${(e as Error).message}`, { path: this.opts.autobootPath }, { cause: e })
    }
  }

  private slotOf(partition: number, where: string): SlotName {
    if (partition === this.partitions.a) return 'a'
    if (partition === this.partitions.b) return 'b'
    throw new SlotError('SLOT_STATE_INVALID', `autoboot.txt ${where} boot_partition=${partition} is not a slot partition (${this.partitions.a}, ${this.partitions.b})`)
  }

  private async trybootFlag(): Promise<boolean> {
    const buf = await readFile(this.opts.trybootFlagPath ?? '/proc/device-tree/chosen/bootloader/tryboot').catch(() => undefined)
    // device tree: a big-endian u32 cell; tests may write text '1'
    if (!buf || buf.length === 0) return false
    if (buf.length === 4) return buf.readUInt32BE(0) !== 0
    return buf.toString('utf8').trim() !== '0' && buf.toString('utf8').trim() !== ''
  }

  private async bootId(): Promise<string> {
    const path = this.opts.bootIdPath ?? '/proc/sys/kernel/random/boot_id'
    try {
      return (await readFile(path, 'utf8')).trim()
    } catch (e) {
      throw new SlotError('SLOT_BOOTED_UNKNOWN', `cannot read boot id ${path}`, { path }, { cause: e })
    }
  }
}

function withMarker(text: string, bootId: string | undefined): string {
  const without = text.replace(/^# slipway-try-boot-id=\S+\n?/m, '')
  return bootId === undefined ? without : `# slipway-try-boot-id=${bootId}\n${without}`
}

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parseAutoboot, setBootPartition, TrybootAdapter, type TrybootAdapterOptions } from '../../../client-sdk/src/slots/index.js'
import { bootPi, isTrybootReboot, makeTrybootRig, type TrybootRig } from '../../helpers/bootloaders/tryboot.js'
import { codeOf, scratchDirs, slotContract } from './contract.js'

const newDir = await scratchDirs(t, 'slipway-tryboot-')
const options = (rig: TrybootRig, extra: Partial<TrybootAdapterOptions> = {}): TrybootAdapterOptions => ({
  autobootPath: rig.autobootPath,
  trybootFlagPath: rig.trybootFlagPath,
  bootIdPath: rig.bootIdPath,
  cmdlinePath: rig.cmdlinePath,
  partitions: rig.partitions,
  slotPaths: { a: join(rig.dir, 'p2.img'), b: join(rig.dir, 'p3.img') },
  ...extra,
})
async function freshPi(): Promise<TrybootRig> {
  const rig = makeTrybootRig(await newDir())
  await new TrybootAdapter(options(rig)).init('a')
  bootPi(rig, false)
  return rig
}

t.test('contract: autoboot.txt on a file-backed boot folder, Pi firmware emulator', async (t) => {
  slotContract(t, async () => {
    const rig = await freshPi()
    return {
      adapter: () => new TrybootAdapter(options(rig)),
      reboot: async (argv, failing) => void bootPi(rig, isTrybootReboot(argv), failing),
      powerCycle: async (failing) => void bootPi(rig, false, failing),
    }
  })
})

t.test('reboot command: tryboot only while a trial is pending', async (t) => {
  const rig = await freshPi()
  const a = new TrybootAdapter(options(rig))
  t.same(await a.rebootCommand(), ['reboot'])
  await a.markTry('b')
  t.same(await a.rebootCommand(), ['reboot', '0 tryboot'])
  t.match(await readFile(rig.autobootPath, 'utf8'), /\[all\]\ntryboot_a_b=1\nboot_partition=2\n\[tryboot\]\nboot_partition=3\n/)
  bootPi(rig, true)
  t.same(await a.status(), { booted: 'b', active: 'a', trying: 'b' })
  t.same(await a.rebootCommand(), ['reboot'], 'a running trial is not tried again')
})

t.test('the tryboot flag alone tells the booted slot when the cmdline does not', async (t) => {
  const rig = await freshPi()
  const a = new TrybootAdapter(options(rig))
  await a.markTry('b')
  bootPi(rig, true)
  await writeFile(rig.cmdlinePath, 'console=serial0,115200 rootwait\n')
  t.same(await a.status(), { booted: 'b', active: 'a', trying: 'b' })
})

t.test('a trial marked, then lost to an unplanned reset before the tryboot reboot, reads as fallen back', async (t) => {
  const rig = await freshPi()
  await new TrybootAdapter(options(rig)).markTry('b')
  bootPi(rig, false)
  t.same(await new TrybootAdapter(options(rig)).status(), { booted: 'a', active: 'a' })
})

t.test('autoboot.txt parsing and editing keeps lines it does not own', async (t) => {
  const text = '# selector\n[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n[pi5]\nboot_partition=9\n'
  t.same(parseAutoboot(text), { all: 2, tryboot: 3 })
  t.same(parseAutoboot('[all]\nboot_partition=2\n'), { all: 2, tryboot: 2 })
  const edited = setBootPartition(text, 'tryboot', 2)
  t.equal(edited, text.replace('[tryboot]\nboot_partition=3', '[tryboot]\nboot_partition=2'))
  t.equal(setBootPartition('[all]\nboot_partition=2\n', 'tryboot', 3), '[all]\nboot_partition=2\n[tryboot]\nboot_partition=3\n')
  t.throws(() => parseAutoboot('[tryboot]\nboot_partition=3\n'), { code: 'SLOT_ENV_CORRUPT' })
  t.throws(() => parseAutoboot('[all]\nboot_partition=two\n'), { code: 'SLOT_ENV_CORRUPT' })
})

t.test('missing autoboot.txt is SLOT_ENV_CORRUPT; a partition that is no slot is SLOT_STATE_INVALID', async (t) => {
  const rig = await freshPi()
  t.equal(await codeOf(new TrybootAdapter(options(rig, { autobootPath: join(rig.dir, 'none.txt') })).status()), 'SLOT_ENV_CORRUPT')
  await writeFile(rig.autobootPath, '[all]\nboot_partition=5\n')
  t.equal(await codeOf(new TrybootAdapter(options(rig)).status()), 'SLOT_STATE_INVALID')
  t.throws(() => new TrybootAdapter(options(rig, { partitions: { a: 2, b: 2 } })), { code: 'SLOT_BAD_CONFIG' })
})

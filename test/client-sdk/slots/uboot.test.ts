import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { UBootAdapter, type UBootAdapterOptions } from '../../../client-sdk/src/slots/index.js'
import { bootUBoot, makeUBootEnv, printenv, type UBootRig } from '../../helpers/bootloaders/uboot.js'
import { codeOf, slotContract } from './contract.js'

const root = await mkdtemp(join(tmpdir(), 'slipway-uboot-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let n = 0
const newDir = async () => {
  const dir = join(root, String(n++))
  await import('node:fs/promises').then((fs) => fs.mkdir(dir))
  return dir
}

const options = (rig: UBootRig, extra: Partial<UBootAdapterOptions> = {}): UBootAdapterOptions => ({
  configFile: rig.configFile,
  cmdlinePath: rig.cmdlinePath,
  slotPaths: { a: join(rig.dir, 'slot-a.img'), b: join(rig.dir, 'slot-b.img') },
  slotVariable: rig.slotVariable,
  slotValues: rig.slotValues,
  ...extra,
})

t.test('contract: fw_setenv/fw_printenv on a redundant env file, U-Boot bootcount emulator', async (t) => {
  slotContract(t, async () => {
    const rig = makeUBootEnv(await newDir())
    return {
      adapter: () => new UBootAdapter(options(rig)),
      reboot: async (_argv, failing) => void bootUBoot(rig, failing),
      powerCycle: async (failing) => void bootUBoot(rig, failing),
    }
  })
})

t.test('contract: single env copy, numeric partition values in a board-specific variable', async (t) => {
  slotContract(t, async () => {
    const rig = makeUBootEnv(await newDir(), { redundant: false, slotVariable: 'boot_part', slotValues: { a: '2', b: '3' } })
    return {
      adapter: () => new UBootAdapter(options(rig)),
      reboot: async (_argv, failing) => void bootUBoot(rig, failing),
      powerCycle: async (failing) => void bootUBoot(rig, failing),
    }
  })
})

t.test('markTry writes the U-Boot variables in one environment write', async (t) => {
  const rig = makeUBootEnv(await newDir())
  await new UBootAdapter(options(rig, { bootLimit: 2 })).markTry('b')
  const env = printenv(rig)
  t.match(env, { slipway_slot: 'b', upgrade_available: '1', bootcount: '0', bootlimit: '2' })
  // bootlimit 2: the trial gets two boots before altbootcmd
  t.equal(bootUBoot(rig), 'b')
  t.equal(bootUBoot(rig), 'b')
  t.equal(bootUBoot(rig), 'a')
  t.match(printenv(rig), { slipway_slot: 'a', upgrade_available: '0', bootcount: '0' })
})

t.test('a corrupt environment is SLOT_ENV_CORRUPT, and nothing is written', async (t) => {
  const rig = makeUBootEnv(await newDir())
  for (const f of rig.envFiles) {
    const buf = readFileSync(f)
    buf[10] = buf[10]! ^ 0xff // breaks the CRC of both copies
    writeFileSync(f, buf)
  }
  const before = rig.envFiles.map((f) => readFileSync(f))
  const a = new UBootAdapter(options(rig))
  t.equal(await codeOf(a.status()), 'SLOT_ENV_CORRUPT')
  t.equal(await codeOf(a.markTry('b')), 'SLOT_ENV_CORRUPT')
  t.equal(await codeOf(a.setEnv({ upgrade_available: '1' })), 'SLOT_ENV_CORRUPT', 'no silent reset to defaults')
  t.same(rig.envFiles.map((f) => readFileSync(f)), before)
})

t.test('one bad copy of a redundant env is survived', async (t) => {
  const rig = makeUBootEnv(await newDir())
  await new UBootAdapter(options(rig)).markTry('b')
  // a power cut while writing one copy leaves it with a bad CRC; libubootenv uses the other
  const buf = readFileSync(rig.envFiles[0]!)
  buf[10] = buf[10]! ^ 0xff
  writeFileSync(rig.envFiles[0]!, buf)
  const s = await new UBootAdapter(options(rig)).status()
  t.ok(s.booted === 'a' && s.active === 'a', `readable from the other copy: ${JSON.stringify(s)}`)
})

t.test('missing tool, missing config, unknown slot value, unknown booted slot', async (t) => {
  const rig = makeUBootEnv(await newDir())
  t.equal(await codeOf(new UBootAdapter(options(rig, { fwPrintenv: '/nonexistent/fw_printenv' })).status()), 'SLOT_TOOL_MISSING')
  t.equal(await codeOf(new UBootAdapter(options(rig, { fwSetenv: '/nonexistent/fw_setenv' })).markTry('b')), 'SLOT_TOOL_MISSING')
  t.equal(await codeOf(new UBootAdapter(options(rig, { configFile: join(rig.dir, 'nope.config') })).status()), 'SLOT_BAD_CONFIG')
  t.equal(await codeOf(new UBootAdapter(options(rig, { slotValues: { a: '2', b: '3' } })).status()), 'SLOT_STATE_INVALID')
  writeFileSync(rig.cmdlinePath, 'console=ttyS0 root=/dev/sda9\n')
  t.equal(await codeOf(new UBootAdapter(options(rig)).status()), 'SLOT_BOOTED_UNKNOWN')
  // without slipway.slot=, root= is matched against the slot devices
  writeFileSync(rig.cmdlinePath, `console=ttyS0 root=${join(rig.dir, 'slot-b.img')}\n`)
  t.equal((await new UBootAdapter(options(rig)).status()).booted, 'b')
  t.throws(() => new UBootAdapter(options(rig, { bootLimit: 0 })), { code: 'SLOT_BAD_CONFIG' })
  writeFileSync(rig.cmdlinePath, 'slipway.slot=a\n')
  // a tool that exits 0 without writing (as libubootenv 0.3.2 does with `name value` script lines)
  t.equal(await codeOf(new UBootAdapter(options(rig, { fwSetenv: '/bin/true' })).markTry('b')), 'SLOT_TOOL_FAILED')
})

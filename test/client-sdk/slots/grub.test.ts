import { execFileSync } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { GrubAdapter, GRUB_VARS, type GrubAdapterOptions } from '../../../client-sdk/src/slots/index.js'
import { bootGrub, loadEnv, makeGrubEnv, type GrubRig } from '../../helpers/bootloaders/grub.js'
import { codeOf, scratchDirs, slotContract } from './contract.js'

const snippet = fileURLToPath(new URL('../../../client-sdk/src/slots/grub-slipway.cfg', import.meta.url))
const newDir = await scratchDirs(t, 'slipway-grub-')
const options = (rig: GrubRig, extra: Partial<GrubAdapterOptions> = {}): GrubAdapterOptions => ({
  envFile: rig.envFile,
  cmdlinePath: rig.cmdlinePath,
  slotPaths: { a: join(rig.dir, 'slot-a.img'), b: join(rig.dir, 'slot-b.img') },
  ...extra,
})

t.test('contract: grub-editenv on a grubenv file, grub-slipway.cfg emulator', async (t) => {
  slotContract(t, async () => {
    const rig = makeGrubEnv(await newDir())
    return {
      adapter: () => new GrubAdapter(options(rig)),
      reboot: async (_argv, failing) => void bootGrub(rig, failing),
      powerCycle: async (failing) => void bootGrub(rig, failing),
    }
  })
})

t.test('the shipped grub.cfg snippet is valid GRUB script and uses the adapter variables', async (t) => {
  // grub-script-check (grub-common) parses with GRUB's own parser; exits non-zero on a syntax error
  execFileSync('grub-script-check', [snippet], { stdio: 'pipe' })
  const text = await readFile(snippet, 'utf8')
  t.match(text, `load_env ${GRUB_VARS.slot} ${GRUB_VARS.try} ${GRUB_VARS.trying}`)
  t.match(text, `save_env ${GRUB_VARS.try} ${GRUB_VARS.trying}`, 'fallback clears the trial')
  t.match(text, `save_env ${GRUB_VARS.trying}`, 'the trial is consumed before it boots')
  t.match(text, 'slipway.slot=${slipway_boot}', 'tells the kernel which slot booted')
})

t.test('writes go through a renamed temp copy: a valid env at every moment, no temp left', async (t) => {
  const rig = makeGrubEnv(await newDir())
  await new GrubAdapter(options(rig)).markTry('b')
  t.match(loadEnv(rig), { slipway_slot: 'a', slipway_try: 'b', slipway_trying: '' })
  t.same(await readdir(rig.dir).then((f) => f.filter((x) => x.endsWith('.tmp'))), [])
  t.equal((await readFile(rig.envFile)).length, 1024)
})

t.test('missing, truncated or garbage env is SLOT_ENV_CORRUPT; missing tool is SLOT_TOOL_MISSING', async (t) => {
  const rig = makeGrubEnv(await newDir())
  t.equal(await codeOf(new GrubAdapter(options(rig, { grubEditenv: '/nonexistent/grub-editenv' })).status()), 'SLOT_TOOL_MISSING')
  t.equal(await codeOf(new GrubAdapter(options(rig, { envFile: join(rig.dir, 'none') })).status()), 'SLOT_ENV_CORRUPT')
  await writeFile(rig.envFile, 'garbage'.padEnd(1024, 'x'))
  t.equal(await codeOf(new GrubAdapter(options(rig)).status()), 'SLOT_ENV_CORRUPT', 'not an env block')
  await writeFile(rig.envFile, '# GRUB Environment Block\n')
  t.equal(await codeOf(new GrubAdapter(options(rig)).markTry('b')), 'SLOT_ENV_CORRUPT', 'truncated')
  execFileSync('grub-editenv', [rig.envFile, 'create'])
  t.equal(await codeOf(new GrubAdapter(options(rig)).status()), 'SLOT_STATE_INVALID', 'no slipway_slot')
})

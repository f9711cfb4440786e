import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { bootFileSlots, FileSlotAdapter, initFileSlots, readFileSlotsState, type SlotName } from '../../../client-sdk/src/slots/index.js'
import { codeOf, scratchDirs, slotContract } from './contract.js'

const newDir = await scratchDirs(t, 'slipway-fileslots-')
async function boot(dir: string, failing: ReadonlySet<SlotName> = new Set()) {
  for (let i = 0; i < 5; i++) if (!failing.has(await bootFileSlots(dir))) return
  throw new Error('no slot boots')
}

t.test('contract: plain files and a JSON state file, bootFileSlots as firmware', async (t) => {
  slotContract(t, async () => {
    const dir = await newDir()
    await initFileSlots(dir, 'a')
    return {
      adapter: () => new FileSlotAdapter({ dir, rebootCommand: ['simulator-reboot'] }),
      reboot: async (argv, failing) => {
        t.same(argv, ['simulator-reboot'])
        await boot(dir, failing)
      },
      powerCycle: (failing) => boot(dir, failing),
    }
  })
})

t.test('state is replaced atomically, slot paths default into the folder', async (t) => {
  const dir = await newDir()
  await initFileSlots(dir, 'b')
  await initFileSlots(dir, 'a') // does not overwrite a provisioned device
  const a = new FileSlotAdapter({ dir, rebootCommand: ['x'] })
  t.same(await a.status(), { booted: 'b', active: 'b' })
  t.equal(a.slotPath('a'), join(dir, 'slot-a.img'))
  await a.markTry('a')
  t.same(await readdir(dir), ['state.json'])
  t.match(await readFileSlotsState(dir), { version: 1, active: 'b', trying: 'a', booted: 'b' })
  t.equal(new FileSlotAdapter({ dir, rebootCommand: ['x'], slotPaths: { a: '/dev/loop0', b: '/dev/loop1' } }).slotPath('b'), '/dev/loop1')
})

t.test('a missing or garbage state file is SLOT_ENV_CORRUPT', async (t) => {
  const dir = await newDir()
  const a = new FileSlotAdapter({ dir, rebootCommand: ['x'] })
  t.equal(await codeOf(a.status()), 'SLOT_ENV_CORRUPT')
  await writeFile(join(dir, 'state.json'), '{"version":1,"active":"c","booted":"a"}')
  t.equal(await codeOf(a.status()), 'SLOT_ENV_CORRUPT')
  await writeFile(join(dir, 'state.json'), '{"vers')
  t.equal(await codeOf(a.markTry('b')), 'SLOT_ENV_CORRUPT')
  t.throws(() => new FileSlotAdapter({ dir, rebootCommand: [] }), { code: 'SLOT_BAD_CONFIG' })
})

/**
 * The one contract every SlotAdapter passes, run on each adapter against its real tool
 * and a bootloader emulator working on the same files (test/helpers/bootloaders).
 * "Crash between calls" is a new adapter instance repeating the last call: adapters
 * keep no state in memory, so that is exactly what a restarted agent does.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { SlotError, type SlotAdapter, type SlotName, type SlotStatus } from '../../../client-sdk/src/slots/index.js'

export interface SlotRig {
  /** a new adapter instance on the same device: what a restarted agent constructs */
  adapter(): SlotAdapter
  /** the agent reboots with `argv` (adapter.rebootCommand()); `failing` slots crash before userspace */
  reboot(argv: string[], failing?: ReadonlySet<SlotName>): Promise<void>
  /** an unplanned reset (power cut, watchdog) */
  powerCycle(failing?: ReadonlySet<SlotName>): Promise<void>
}

/** A temp root removed after `t`, and a maker of a new empty folder in it for each device. */
export async function scratchDirs(t: Test, prefix: string): Promise<() => Promise<string>> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  let n = 0
  return async () => {
    const dir = join(root, String(n++))
    await mkdir(dir)
    return dir
  }
}

export const codeOf = async (p: Promise<unknown>) => {
  try {
    await p
    return 'no error'
  } catch (e) {
    return e instanceof SlotError ? e.code : `not a SlotError: ${String(e)}`
  }
}

const st = (booted: SlotName, active: SlotName, trying?: SlotName): SlotStatus => (trying ? { booted, active, trying } : { booted, active })

export function slotContract(t: Test, make: () => Promise<SlotRig>): void {
  const rebootVia = async (rig: SlotRig, failing?: ReadonlySet<SlotName>) => rig.reboot(await rig.adapter().rebootCommand(), failing)

  t.test('a fresh device: a booted and active, b inactive', async (t) => {
    const rig = await make()
    const a = rig.adapter()
    t.same(await a.status(), st('a', 'a'))
    t.equal(await a.inactive(), 'b')
    t.not(a.slotPath('a'), a.slotPath('b'))
  })

  t.test('install → markTry → reboot → trial → commit → reboot stays on the new slot, and back again', async (t) => {
    const rig = await make()
    for (const [from, to] of [['a', 'b'], ['b', 'a']] as const) {
      const slot = await rig.adapter().inactive()
      t.equal(slot, to)
      await writeFile(rig.adapter().slotPath(slot), `image for ${slot}`).catch(() => undefined)
      await rig.adapter().markTry(slot)
      t.same(await rig.adapter().status(), st(from, from, to), 'trial pending')
      await rebootVia(rig)
      t.same(await rig.adapter().status(), st(to, from, to), 'trial in progress')
      t.equal(await codeOf(rig.adapter().inactive()), 'SLOT_NOT_COMMITTED', 'no writing over the fallback during a trial')
      await rig.adapter().commit()
      t.same(await rig.adapter().status(), st(to, to), 'committed')
      await rebootVia(rig)
      t.same(await rig.adapter().status(), st(to, to), 'still on the committed slot after a reboot')
      await rig.powerCycle()
      t.same(await rig.adapter().status(), st(to, to), 'and after a power cut')
    }
  })

  t.test('rollback during the trial boots the active slot next', async (t) => {
    const rig = await make()
    await rig.adapter().markTry('b')
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('b', 'a', 'b'))
    await rig.adapter().rollback()
    t.same(await rig.adapter().status(), st('b', 'a'), 'trial cancelled, still running b')
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('a', 'a'))
  })

  t.test('rollback of a pending trial, before any reboot', async (t) => {
    const rig = await make()
    await rig.adapter().markTry('b')
    await rig.adapter().rollback()
    t.same(await rig.adapter().status(), st('a', 'a'))
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('a', 'a'))
  })

  t.test('a trial boot that crashes falls back to the active slot by itself', async (t) => {
    const rig = await make()
    await rig.adapter().markTry('b')
    await rebootVia(rig, new Set(['b']))
    t.same(await rig.adapter().status(), st('a', 'a'), 'back on a, no trial left')
    t.equal(await rig.adapter().inactive(), 'b', 'b can be rewritten and tried again')
    await rig.adapter().markTry('b')
    await rebootVia(rig)
    await rig.adapter().commit()
    t.same(await rig.adapter().status(), st('b', 'b'))
  })

  t.test('a trial that boots but is never committed falls back on the next reset', async (t) => {
    const rig = await make()
    await rig.adapter().markTry('b')
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('b', 'a', 'b'))
    await rig.powerCycle()
    t.same(await rig.adapter().status(), st('a', 'a'), 'watchdog/power reset')
    await rig.adapter().markTry('b')
    await rebootVia(rig)
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('a', 'a'), 'the agent rebooting a running trial also falls back')
  })

  t.test('every call repeated by a restarted agent is a no-op', async (t) => {
    const rig = await make()
    const twice = async (f: (a: SlotAdapter) => Promise<void>, expected: SlotStatus, what: string) => {
      await f(rig.adapter())
      t.same(await rig.adapter().status(), expected, what)
      await f(rig.adapter())
      t.same(await rig.adapter().status(), expected, `${what}, repeated`)
    }
    await twice((a) => a.markTry('b'), st('a', 'a', 'b'), 'markTry')
    await rebootVia(rig)
    await twice((a) => a.commit(), st('b', 'b'), 'commit')
    await twice((a) => a.rollback(), st('b', 'b'), 'rollback without a trial')
    await twice((a) => a.markTry('a'), st('b', 'b', 'a'), 'markTry a')
    await rebootVia(rig)
    await twice((a) => a.rollback(), st('a', 'b'), 'rollback of the running trial')
    await rebootVia(rig)
    t.same(await rig.adapter().status(), st('b', 'b'))
  })

  t.test('calls that do not fit the state fail with SLOT_WRONG_STATE and change nothing', async (t) => {
    const rig = await make()
    t.equal(await codeOf(rig.adapter().markTry('a')), 'SLOT_WRONG_STATE', 'markTry of the booted slot')
    await rig.adapter().markTry('b')
    t.equal(await codeOf(rig.adapter().commit()), 'SLOT_WRONG_STATE', 'commit before the trial booted')
    t.same(await rig.adapter().status(), st('a', 'a', 'b'))
  })
}

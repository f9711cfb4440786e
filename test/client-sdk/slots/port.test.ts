import t from 'tap'
import { createSlotAdapter, parseBootedSlot, planCommit, planMarkTry, planRollback } from '../../../client-sdk/src/slots/index.js'

t.test('booted slot from the kernel command line', async (t) => {
  t.equal(parseBootedSlot('console=ttyS0 slipway.slot=b root=/dev/mmcblk0p2'), 'b', 'slipway.slot wins over root=')
  t.equal(parseBootedSlot('slipway.slot=a slipway.slot=b'), 'b', 'the last one, as the kernel does')
  t.equal(parseBootedSlot('root=PARTUUID=1234-03 ro\n', { a: 'PARTUUID=1234-02', b: 'PARTUUID=1234-03' }), 'b')
  t.equal(parseBootedSlot('root=/dev/sda1', { a: '/dev/sda2' }), undefined)
  t.equal(parseBootedSlot('quiet'), undefined)
  t.throws(() => parseBootedSlot('slipway.slot=c'), { code: 'SLOT_BOOTED_UNKNOWN' })
})

t.test('idempotency rules', async (t) => {
  t.equal(planMarkTry({ booted: 'a', active: 'a' }, 'b'), 'apply')
  t.equal(planMarkTry({ booted: 'a', active: 'a', trying: 'b' }, 'b'), 'noop')
  t.equal(planMarkTry({ booted: 'b', active: 'a', trying: 'b' }, 'b'), 'noop', 'running trial: markTry again does not reset it')
  t.throws(() => planMarkTry({ booted: 'a', active: 'a' }, 'a'), { code: 'SLOT_WRONG_STATE' }, 'the booted slot cannot be tried')
  t.throws(() => planMarkTry({ booted: 'b', active: 'a' }, 'a'), { code: 'SLOT_NOT_COMMITTED' })
  t.equal(planCommit({ booted: 'b', active: 'a', trying: 'b' }), 'apply')
  t.equal(planCommit({ booted: 'b', active: 'b' }), 'noop')
  t.throws(() => planCommit({ booted: 'a', active: 'a', trying: 'b' }), { code: 'SLOT_WRONG_STATE' })
  t.throws(() => planCommit({ booted: 'b', active: 'a' }), { code: 'SLOT_WRONG_STATE' }, 'a cancelled trial cannot be committed')
  t.equal(planRollback({ booted: 'a', active: 'a' }), 'noop')
  t.equal(planRollback({ booted: 'a', active: 'a', trying: 'b' }), 'apply')
})

t.test('createSlotAdapter builds the adapter a config names', async (t) => {
  const slotPaths = { a: '/dev/mmcblk0p2', b: '/dev/mmcblk0p3' }
  const kinds = [
    createSlotAdapter({ kind: 'uboot', slotPaths }),
    createSlotAdapter({ kind: 'grub', slotPaths }),
    createSlotAdapter({ kind: 'tryboot', slotPaths, autobootPath: '/boot/selector/autoboot.txt' }),
    createSlotAdapter({ kind: 'file', dir: '/var/lib/sim', rebootCommand: ['sim-reboot'] }),
  ]
  t.same(kinds.map((a) => a.kind), ['uboot', 'grub', 'tryboot', 'file'])
  t.same(kinds.map((a) => a.slotPath('b')), ['/dev/mmcblk0p3', '/dev/mmcblk0p3', '/dev/mmcblk0p3', '/var/lib/sim/slot-b.img'])
  t.same(await kinds[0]!.rebootCommand(), ['systemctl', 'reboot'])
})

/**
 * The survivors of the first `npm run mutate -- --area delta` in ops.ts, each a case no
 * test had: an entry that reads nothing while oldpos is outside the extent, consecutive
 * entries with x = y, a diff or extra read that continues a decoded piece into the
 * next one, and which stream each refusal names.
 */
import t from 'tap'
import { applyDeltaStream, DeltaError } from '../../client-sdk/src/delta/index.js'
import { bsdiffOp, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { chunked, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

type Control = ReadonlyArray<readonly [number, number, number]>
const KiB = 1024
const source = randomBytes(700 * KiB, 31)

/** What bspatch writes for these streams (the tests below stay inside the source). */
function naive(src: Buffer, control: Control, diff: Buffer, extra: Buffer): Buffer {
  const out: number[] = []
  let oldpos = 0
  let d = 0
  let e = 0
  for (const [x, y, z] of control) {
    for (let i = 0; i < x; i++) out.push((src[oldpos + i]! + diff[d++]!) & 0xff)
    for (let i = 0; i < y; i++) out.push(extra[e++]!)
    oldpos += x + z
  }
  return Buffer.from(out)
}

async function outcome(ops: EncodedOp[], target: Buffer) {
  try {
    const sink = new MemSink()
    await applyDeltaStream({ source: memSource(source), patch: chunked(await writePatch(source, target, ops), 65536), sink })
    return { code: sink.data.equals(target) ? 'accepted' : 'wrong output' }
  } catch (e) {
    if (!(e instanceof DeltaError)) return { code: `not a DeltaError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

async function bsdiff(control: Control, diffLen: number, extraLen: number, target?: Buffer) {
  const diff = randomBytes(diffLen, 5)
  const extra = randomBytes(extraLen, 6)
  const want = target ?? naive(source, control, diff, extra)
  const op = await bsdiffOp({ targetOffset: 0, target: want, srcOffset: 0, srcLength: source.length, control, diff, extra }, 5)
  return outcome([op], want)
}

const accepted = { code: 'accepted' }

t.test('an entry that reads nothing may leave oldpos below the extent for a moment', async (t) => {
  t.match(await bsdiff([[3, 0, -8], [0, 2, 8], [2, 0, 0]], 5, 2), accepted, 'oldpos -5 while only extra bytes are copied, then back inside')
})

t.test('consecutive entries with as many diff as extra bytes are not empty entries', async (t) => {
  t.match(await bsdiff([[1, 1, 0], [1, 1, 0], [2, 2, 0]], 4, 4), accepted)
})

t.test('a diff or extra read that continues into the next decoded piece takes only what the entry needs', async (t) => {
  // the decoder hands out 256 KiB pieces: the second entry starts 100 bytes into one and
  // needs more than its rest, so its second read must ask for exactly the remainder
  t.match(await bsdiff([[100, 0, 0], [300 * KiB, 0, 0], [10, 0, 0]], 100 + 300 * KiB + 10, 0), accepted, 'diff')
  t.match(await bsdiff([[0, 100, 0], [0, 300 * KiB, 0], [0, 10, 0]], 0, 100 + 300 * KiB + 10), accepted, 'extra')
})

t.test('each refusal names its stream', async (t) => {
  const ten = naive(source, [[10, 0, 0]], randomBytes(10, 5), Buffer.alloc(0))
  t.match(await bsdiff([[10, 0, 0]], 12, 0, ten), { code: 'DELTA_CORRUPT', message: 'diff stream decodes to more than the op allows', details: { stream: 'diff', limit: 10 } })
  const five = randomBytes(6, 6).subarray(0, 5)
  t.match(await bsdiff([[0, 5, 0]], 0, 6, five), { code: 'DELTA_CORRUPT', message: 'extra stream decodes to more than the op allows', details: { stream: 'extra', limit: 5 } })

  const big = Buffer.alloc(4000, 7)
  const bomb = await replaceOp(0, big, 5)
  const declared = big.subarray(0, 1000)
  const forged: EncodedOp = { op: { ...bomb.op, targetLength: 1000, sha256: sha256(declared) }, payload: bomb.payload }
  t.match(await outcome([forged], declared), {
    code: 'DELTA_CORRUPT',
    message: 'replace stream decodes to more than the op allows',
    details: { stream: 'replace', limit: 1000 },
  })
  const data = randomBytes(20, 2)
  const short = await replaceOp(0, data, 5)
  const target = Buffer.concat([data, Buffer.alloc(5)])
  t.match(await outcome([{ op: { ...short.op, targetLength: 25, sha256: sha256(target) }, payload: short.payload }], target), {
    code: 'DELTA_CORRUPT',
    message: 'replace data has the wrong length',
  })
})

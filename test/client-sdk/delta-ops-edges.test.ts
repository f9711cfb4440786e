/**
 * The op runner's edges (client-sdk/src/delta/ops.ts), each with a patch built to hit
 * exactly one check: bsdiff control entries that seek below or past the op's source
 * extent, overrun the output, repeat empty entries or run out; streams shorter or
 * longer than their control says; varints too long or too large; the per-op output
 * limit. Each forged op carries the sha256 of what an applier without the check would
 * write, so only the check stands between the patch and an accepted target.
 * Written for the surviving mutants of `npm run mutate -- --area delta`.
 */
import { brotliCompressSync } from 'node:zlib'
import t from 'tap'
import { applyDeltaStream, DeltaError, OpType } from '../../client-sdk/src/delta/index.js'
import { bsdiffOp, copyOp, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { chunked, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

type Control = ReadonlyArray<readonly [number, number, number]>

const source = randomBytes(4096, 21)

/** What bspatch writes for these streams, with no bounds checks at all (reads outside the source give 0). */
function naive(src: Buffer, srcOffset: number, control: Control, diff: Buffer, extra: Buffer): Buffer {
  const out: number[] = []
  let oldpos = 0
  let d = 0
  let e = 0
  for (const [x, y, z] of control) {
    for (let i = 0; i < x; i++) out.push(((src[srcOffset + oldpos + i] ?? 0) + (diff[d++] ?? 0)) & 0xff)
    for (let i = 0; i < y; i++) out.push(extra[e++] ?? 0)
    oldpos += x + z
  }
  return Buffer.from(out)
}

async function apply(ops: EncodedOp[], target: Buffer, limits = {}) {
  const sink = new MemSink()
  const patch = await writePatch(source, target, ops)
  await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 4096), sink }, { limits })
  return sink.data
}

/** Apply one BSDIFF op over source[srcOffset, +srcLength); resolves to the output or to the refusal. */
async function bsdiff(srcOffset: number, srcLength: number, control: Control, diffLen: number, extraLen: number, target?: Buffer) {
  const diff = randomBytes(diffLen, 5)
  const extra = randomBytes(extraLen, 6)
  const expected = target ?? naive(source, srcOffset, control, diff, extra)
  const op = await bsdiffOp({ targetOffset: 0, target: expected, srcOffset, srcLength, control, diff, extra }, 5)
  return outcome(apply([op], expected), expected)
}

/** The same, with control bytes given raw (for malformed varints). */
async function bsdiffRaw(ctrlBytes: Buffer, diffLen: number, extraLen: number, targetLen: number, expected?: Buffer) {
  const ctrl = brotliCompressSync(ctrlBytes)
  const diff = brotliCompressSync(randomBytes(diffLen, 5))
  const extra = brotliCompressSync(randomBytes(extraLen, 6))
  const target = expected ?? Buffer.alloc(targetLen)
  const op: EncodedOp = {
    op: {
      type: OpType.BSDIFF,
      payloadLength: ctrl.length + diff.length + extra.length,
      targetOffset: 0,
      targetLength: targetLen,
      srcOffset: 0,
      srcLength: 1000,
      ctrlLength: ctrl.length,
      diffLength: diff.length,
      sha256: sha256(target),
    },
    payload: Buffer.concat([ctrl, diff, extra]),
  }
  return outcome(apply([op], target), target)
}

async function outcome(p: Promise<Buffer>, expected: Buffer) {
  try {
    const data = await p
    return data.equals(expected) ? { code: 'accepted' } : { code: 'wrong output' }
  } catch (e) {
    if (!(e instanceof DeltaError)) return { code: `not a DeltaError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

const accepted = { code: 'accepted' }

t.test('control entries seek forward and back inside the extent (zigzag z)', async (t) => {
  t.match(await bsdiff(1000, 1000, [[10, 2, -10], [10, 0, 0]], 20, 2), accepted, 'back to the start: z = -10')
  t.match(await bsdiff(1000, 1000, [[5, 0, 3], [5, 0, 0]], 10, 0), accepted, 'skip ahead: z = 3')
  t.match(await bsdiff(1000, 1000, [[5, 0, -1], [5, 0, 0]], 10, 0), accepted, 'one back: z = -1')
  t.match(await bsdiff(1000, 1000, [[5, 1, 0], [0, 1, 7], [3, 0, 0]], 8, 2), accepted, 'an entry with only extra bytes')
})

t.test('a seek below the extent start is refused before reading (negative oldpos)', async (t) => {
  t.match(await bsdiff(1000, 1000, [[10, 0, -20], [5, 0, 0]], 15, 0), {
    code: 'DELTA_OUT_OF_SOURCE',
    message: 'bsdiff control reads outside the op source extent',
    details: { oldpos: -10, length: 5, srcLength: 1000 },
  })
  t.match(await bsdiff(1000, 1000, [[0, 0, -1], [1, 0, 0]], 1, 0), { code: 'DELTA_OUT_OF_SOURCE', details: { oldpos: -1 } }, 'one byte before')
  t.match(await bsdiff(1000, 1000, [[3, 2, -8]], 3, 2), accepted, 'below the start but reading nothing more: fine')
})

t.test('a read past the extent end is refused; up to the end is fine', async (t) => {
  t.match(await bsdiff(1000, 100, [[100, 0, 0]], 100, 0), accepted, 'the whole extent')
  t.match(await bsdiff(1000, 100, [[101, 0, 0]], 101, 0), {
    code: 'DELTA_OUT_OF_SOURCE',
    details: { oldpos: 0, length: 101, srcLength: 100 },
  })
  t.match(await bsdiff(1000, 100, [[50, 0, 40], [10, 0, 0]], 60, 0), accepted, 'seek, then read to the end')
  t.match(await bsdiff(1000, 100, [[50, 0, 40], [11, 0, 0]], 61, 0), { code: 'DELTA_OUT_OF_SOURCE', details: { oldpos: 90, length: 11 } })
})

t.test('the op extent itself must lie inside the source', async (t) => {
  t.match(await bsdiff(4000, 96, [[96, 0, 0]], 96, 0), accepted, 'extent ends at the last source byte')
  t.match(await bsdiff(4000, 97, [[96, 0, 0]], 96, 0), {
    code: 'DELTA_OUT_OF_SOURCE',
    message: 'op source extent lies outside the source image',
    details: { srcOffset: 4000, srcLength: 97, sourceSize: 4096 },
  })
  const tail = source.subarray(4000)
  t.match(await outcome(apply([copyOp(0, 4000, 96, sha256(tail))], tail), tail), accepted, 'a COPY of the last bytes')
  const over = Buffer.concat([tail, Buffer.alloc(1)])
  t.match(await outcome(apply([copyOp(0, 4000, 97, sha256(over))], over), over), {
    code: 'DELTA_OUT_OF_SOURCE',
    details: { srcOffset: 4000, srcLength: 97, sourceSize: 4096 },
  }, 'a COPY one byte past the source')
})

t.test('control entries may not write past the op output', async (t) => {
  t.match(await bsdiff(0, 1000, [[8, 3, 0]], 8, 3, Buffer.alloc(10)), {
    code: 'DELTA_CORRUPT',
    message: 'control entry out of range',
    details: { x: 8, y: 3, z: 0 },
  })
  t.match(await bsdiff(0, 1000, [[8, 0, 0], [0, 3, 0]], 8, 3, Buffer.alloc(10)), { code: 'DELTA_CORRUPT', message: 'control entry out of range' }, 'the second entry overruns')
})

t.test('one empty entry (a pure seek) is allowed, two in a row are not', async (t) => {
  t.match(await bsdiff(0, 1000, [[0, 0, 5], [1, 0, 0]], 1, 0), accepted)
  t.match(await bsdiff(0, 1000, [[0, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 0]], 2, 0), accepted, 'not in a row')
  t.match(await bsdiff(0, 1000, [[0, 0, 5], [0, 0, 5], [1, 0, 0]], 1, 0), {
    code: 'DELTA_CORRUPT',
    message: 'control stream has consecutive empty entries',
  })
})

t.test('streams must hold exactly what the control says', async (t) => {
  t.match(await bsdiff(0, 1000, [[5, 0, 0]], 5, 0, Buffer.alloc(10)), {
    code: 'DELTA_CORRUPT',
    message: 'control stream ends before the op output is complete',
  })
  t.match(await bsdiff(0, 1000, [[10, 0, 0], [1, 0, 0]], 10, 0, naive(source, 0, [[10, 0, 0]], randomBytes(10, 5), Buffer.alloc(0))), {
    code: 'DELTA_CORRUPT',
    message: 'control stream has trailing bytes',
  })
  t.match(await bsdiff(0, 1000, [[10, 0, 0]], 5, 0), {
    code: 'DELTA_CORRUPT',
    message: 'diff stream ends before its control says',
    details: { x: 10 },
  })
  t.match(await bsdiff(0, 1000, [[0, 5, 0]], 0, 3), {
    code: 'DELTA_CORRUPT',
    message: 'extra stream ends before its control says',
    details: { y: 5 },
  })
  t.match(await bsdiff(0, 1000, [[10, 0, 0]], 12, 0), { code: 'DELTA_CORRUPT' }, 'diff bytes left over')
  t.match(await bsdiff(0, 1000, [[0, 5, 0]], 0, 6), { code: 'DELTA_CORRUPT' }, 'extra bytes left over')
})

t.test('diff bytes add to the source modulo 256', async (t) => {
  const src = source.subarray(0, 4)
  const diff = Buffer.from([0xff, 0x01, 0x80, 0x00])
  const want = Buffer.from(src.map((b, i) => (b + diff[i]!) & 0xff))
  const op = await bsdiffOp({ targetOffset: 0, target: want, srcOffset: 0, srcLength: 4, control: [[4, 0, 0]], diff, extra: Buffer.alloc(0) }, 5)
  t.match(await outcome(apply([op], want), want), accepted)
})

t.test('ops longer than one read chunk (1 MiB) stream through in pieces', async (t) => {
  const big = randomBytes((1 << 20) + 4096 + 7, 9)
  const sink = new MemSink()
  const diff = randomBytes(big.length - 100, 3)
  const ctrl: Control = [[big.length - 100, 100, 0]]
  const extra = randomBytes(100, 4)
  const want = naive(big, 0, ctrl, diff, extra)
  const ops = [
    copyOp(0, 0, big.length, sha256(big)),
    await bsdiffOp({ targetOffset: big.length, target: want, srcOffset: 0, srcLength: big.length, control: ctrl, diff, extra }, 5),
  ]
  const target = Buffer.concat([big, want])
  const patch = await writePatch(big, target, ops)
  await applyDeltaStream({ source: memSource(big), patch: chunked(patch, 65536), sink })
  t.ok(sink.data.equals(target), 'COPY and BSDIFF of 1 MiB + 4103 bytes rebuilt exactly')
})

t.test('varints: ten bytes at most, and a value no larger than 2^53 - 1', async (t) => {
  const zero10 = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]) // 0, spelt in ten bytes
  const one = naive(source, 0, [[1, 0, 0]], randomBytes(1, 5), Buffer.alloc(0))
  t.match(await bsdiffRaw(Buffer.concat([Buffer.from([1, 0]), zero10]), 1, 0, 1, one), accepted, 'ten bytes: still one varint')
  t.match(await bsdiffRaw(Buffer.from([1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 1, 0, 1), {
    code: 'DELTA_CORRUPT',
    message: 'control varint too long',
  })
  t.match(await bsdiffRaw(Buffer.from([1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 1, 0, 1), {
    code: 'DELTA_CORRUPT',
    message: 'control value out of range',
  }, '2^56')
  t.match(await bsdiffRaw(Buffer.from([1, 0]), 1, 0, 1), {
    code: 'DELTA_CORRUPT',
    message: 'control stream ends before the op output is complete',
  }, 'an entry cut after y')
  t.match(await bsdiffRaw(Buffer.from([1, 0, 0x80]), 1, 0, 1), {
    code: 'DELTA_CORRUPT',
    message: 'control stream ends before the op output is complete',
  }, 'an entry cut inside a varint')
})

t.test('the per-op output limit applies to REPLACE and BSDIFF, not to COPY', async (t) => {
  const ten = randomBytes(10, 8)
  const eleven = randomBytes(11, 8)
  t.match(await outcome(apply([await replaceOp(0, ten, 5)], ten, { maxOpTargetBytes: 10 }), ten), accepted, 'at the limit')
  t.match(await outcome(apply([await replaceOp(0, eleven, 5)], eleven, { maxOpTargetBytes: 10 }), eleven), {
    code: 'DELTA_SIZE_LIMIT',
    message: 'op target length 11 exceeds the limit 10',
    details: { targetLength: 11, limit: 10 },
  })
  const diff = Buffer.alloc(11)
  const want = naive(source, 0, [[11, 0, 0]], diff, Buffer.alloc(0))
  const op = await bsdiffOp({ targetOffset: 0, target: want, srcOffset: 0, srcLength: 11, control: [[11, 0, 0]], diff, extra: Buffer.alloc(0) }, 5)
  t.match(await outcome(apply([op], want, { maxOpTargetBytes: 10 }), want), { code: 'DELTA_SIZE_LIMIT' })
  const copied = source.subarray(0, 11)
  t.match(await outcome(apply([copyOp(0, 0, 11, sha256(copied))], copied, { maxOpTargetBytes: 10 }), copied), accepted, 'COPY holds nothing in memory')
})

t.test('a REPLACE op whose data is shorter than it declares', async (t) => {
  const data = randomBytes(20, 2)
  const r = await replaceOp(0, data, 5)
  const target = Buffer.concat([data, Buffer.alloc(5)])
  const forged: EncodedOp = { op: { ...r.op, targetLength: 25, sha256: sha256(target) }, payload: r.payload }
  t.match(await outcome(apply([forged], target), target), { code: 'DELTA_CORRUPT' })
})

t.test('the control stream may take 4 bytes per output byte, plus 64; one byte more is refused', async (t) => {
  // ten entries (1, 0, 0) with varints padded by continuation bytes: the same values, more bytes
  const one = (n: number) => [0x81, ...Array(n - 2).fill(0x80), 0x00]
  const entries = (padded: number[][]) => Buffer.from(padded.flat())
  const control = [[1, 0, 0]] as Control
  const want = naive(source, 0, Array(10).fill(control[0]), randomBytes(10, 5), Buffer.alloc(0))
  const exact = entries([...Array(8).fill([...one(10), 0, 0]), [...one(3), 0, 0], [1, 0, 0]]) // 8 * 12 + 5 + 3 = 104
  t.equal(exact.length, 4 * 10 + 64)
  t.match(await bsdiffRaw(exact, 10, 0, 10, want), accepted, 'exactly 4 x 10 + 64 bytes of control')
  const over = entries([...Array(8).fill([...one(10), 0, 0]), [...one(4), 0, 0], [1, 0, 0]])
  t.match(await bsdiffRaw(over, 10, 0, 10, want), {
    code: 'DELTA_CORRUPT',
    message: 'control stream decodes to more than the op allows',
    details: { stream: 'control', limit: 104 },
  })
})

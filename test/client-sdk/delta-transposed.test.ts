/**
 * Version 3's TRANSPOSED op (client-sdk/src/delta/transpose.ts): the column layout byte by
 * byte, the applier's piecewise inverse at any split, its descriptor refusals, the op in
 * whole patches (rebuilt, refused in older versions, damaged), and the builder's choice
 * of stride (server/delta/stride.ts), which must pick quantized rows and leave other
 * bytes alone.
 */
import t from 'tap'
import { applyDeltaStream, decodeOpHeader, DeltaError, encodeOpHeader, OpType, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { decodeTransposeDescriptor, encodeTransposeDescriptor, MAX_STRIDE, SLAB, transpose, untranspose, untransposeSlab } from '../../client-sdk/src/delta/transpose.js'
import { replaceOp, sha256 } from '../../server/delta/encode-op.js'
import { pickStride } from '../../server/delta/stride.js'
import { changelog, chunked, memSource, MemSink, quantRows, randomBytes, sampleTransposedDelta, writePatch, refusal } from './delta-fixtures.js'

t.test('transpose: column c of row i goes to c·n + i; the bytes after the last whole row stay at the end', async (t) => {
  const d = Buffer.from([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31])
  t.same([...transpose(d, 3)], [0, 10, 20, 1, 11, 21, 2, 12, 22, 30, 31])
  t.same([...transpose(d, 2)], [0, 2, 11, 20, 22, 1, 10, 12, 21, 30, 31])
  t.same([...transpose(Buffer.from([1, 2]), 4)], [1, 2], 'shorter than a row: unchanged')
  t.same([...transpose(Buffer.alloc(0), 18)], [])
})

t.test('untranspose gives back the bytes; ops over 1 MiB are transposed slab by slab', async (t) => {
  for (const [len, stride] of [[1000, 18], [1001, 7], [17, 18], [36, 18], [4096, 292], [5, 2], [SLAB, 18], [2 * SLAB + 12345, 18], [SLAB + 1, 4]] as const) {
    const d = randomBytes(len, len + stride)
    t.ok(untranspose(transpose(d, stride), stride).equals(d), `${len} bytes, stride ${stride}`)
  }
  const d = randomBytes(2 * SLAB + 100, 9)
  const whole = transpose(d, 18)
  t.ok(whole.subarray(0, SLAB).equals(transpose(d.subarray(0, SLAB), 18)), 'the first slab alone')
  t.ok(whole.subarray(SLAB, 2 * SLAB).equals(transpose(d.subarray(SLAB, 2 * SLAB), 18)), 'the second on its own rows')
  t.ok(whole.subarray(2 * SLAB).equals(transpose(d.subarray(2 * SLAB), 18)), 'the short last slab')
  const out = Buffer.alloc(SLAB)
  untransposeSlab(whole.subarray(SLAB, 2 * SLAB), 18, out)
  t.ok(out.equals(d.subarray(SLAB, 2 * SLAB)), 'one slab back on its own')
})

t.test('the descriptor: a stride of 2 to 4096, a reserved word of zero', async (t) => {
  t.same([...encodeTransposeDescriptor(18)], [18, 0, 0, 0, 0, 0, 0, 0])
  t.equal(decodeTransposeDescriptor(encodeTransposeDescriptor(2)), 2)
  t.equal(decodeTransposeDescriptor(encodeTransposeDescriptor(MAX_STRIDE)), 4096)
  for (const stride of [0, 1, MAX_STRIDE + 1, 2 ** 32 - 1]) {
    const b = Buffer.alloc(8)
    b.writeUInt32LE(stride, 0)
    t.match(refusal(() => decodeTransposeDescriptor(b)), { code: 'DELTA_CORRUPT', message: `transposed op stride ${stride} is outside 2–4096`, details: { stride } })
  }
  const reserved = encodeTransposeDescriptor(18)
  reserved[7] = 1
  t.match(refusal(() => decodeTransposeDescriptor(reserved)), { code: 'DELTA_UNSUPPORTED', message: 'transposed op descriptor has unknown fields set' })
  t.match(refusal(() => decodeTransposeDescriptor(Buffer.alloc(7))), { code: 'DELTA_CORRUPT', message: 'transposed op payload is shorter than its descriptor' })
})

t.test('op type 5 only in version 3, and never with a source extent', async (t) => {
  const op: OpHeader = { type: OpType.TRANSPOSED, payloadLength: 20, targetOffset: 0, targetLength: 100, srcOffset: 0, srcLength: 0, ctrlLength: 0, diffLength: 0, sha256: sha256(Buffer.from('x')) }
  t.same(decodeOpHeader(encodeOpHeader(op), 3), op)
  for (const version of [1, 2]) t.match(refusal(() => decodeOpHeader(encodeOpHeader(op), version)), { code: 'DELTA_UNSUPPORTED', message: 'unknown delta op type 5' }, `version ${version}`)
  t.match(refusal(() => decodeOpHeader(encodeOpHeader({ ...op, srcLength: 4 }), 3)), { code: 'DELTA_CORRUPT', message: 'invalid op header: TRANSPOSED has a source extent' })
  t.match(refusal(() => decodeOpHeader(encodeOpHeader({ ...op, srcOffset: 4 }), 3)), { code: 'DELTA_CORRUPT', message: 'invalid op header: TRANSPOSED has a source extent' })
  t.match(refusal(() => decodeOpHeader(encodeOpHeader({ ...op, diffLength: 4 }), 3)), { code: 'DELTA_CORRUPT', message: 'invalid op header: stream lengths on an op without streams' })
})

async function apply(source: Buffer, patch: Buffer, chunk = 1000) {
  const sink = new MemSink()
  try {
    await applyDeltaStream({ source: memSource(source), patch: chunked(patch, chunk), sink })
    return { code: 'ok', data: sink.data }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : `unexpected ${String(e)}`, message: (e as Error).message, data: sink.data }
  }
}

t.test('a TRANSPOSED op rebuilds its bytes; a stream of the wrong length or a wrong stride is refused', async (t) => {
  const s = await sampleTransposedDelta()
  const ok = await apply(s.source, s.patch)
  t.equal(ok.code, 'ok')
  t.ok(ok.data.equals(s.target), 'rebuilt byte for byte')
  const { brotli } = await import('../../server/delta/encode-op.js')
  const withPayload = async (payload: Buffer) => {
    const op = { ...s.ops[1]!.op, payloadLength: payload.length }
    return apply(s.source, await writePatch(s.source, s.target, [s.ops[0]!, { op, payload }], undefined, 3))
  }
  const short = await withPayload(Buffer.concat([encodeTransposeDescriptor(18), await brotli(transpose(s.body, 18).subarray(1), 9)]))
  t.match(short, { code: 'DELTA_CORRUPT', message: 'transposed data has the wrong length' })
  const big = quantRows(100_000, 54) // 1.8 MB: two slabs
  const { replaceOp: replace } = await import('../../server/delta/encode-op.js')
  const bigOp = await replace(0, big, 9, true)
  t.equal(bigOp.op.type, OpType.TRANSPOSED, 'a two-slab op')
  const source = randomBytes(100, 55)
  const two = await apply(source, await writePatch(source, big, [bigOp], undefined, 3), 65536)
  t.equal(two.code, 'ok')
  t.ok(two.data.equals(big), 'two slabs rebuilt')
  const long = await withPayload(Buffer.concat([encodeTransposeDescriptor(18), await brotli(Buffer.concat([transpose(s.body, 18), Buffer.from([1])]), 9)]))
  t.match(long, { code: 'DELTA_CORRUPT', message: /transposed stream (decodes to more|has trailing)/ })
  const otherStride = await withPayload(Buffer.concat([encodeTransposeDescriptor(17), await brotli(transpose(s.body, 18), 9)]))
  t.equal(otherStride.code, 'DELTA_OP_HASH_MISMATCH', 'the right bytes in the wrong order fail the op hash')
  const asV2 = await apply(s.source, await writePatch(s.source, s.target, s.ops, undefined, 2))
  t.equal(asV2.code, 'DELTA_UNSUPPORTED', 'a version-2 patch cannot hold one')
})

t.test('pickStride: quantized rows get their block size; random, text and zero bytes get none', async (t) => {
  t.equal(pickStride(quantRows(60_000, 61)), 18, 'Q4_0-like rows')
  t.equal(pickStride(Buffer.concat([randomBytes(5, 62), quantRows(60_000, 63)])), 18, 'at any phase')
  t.equal(pickStride(randomBytes(1 << 20, 64)), undefined, 'random bytes')
  t.equal(pickStride(changelog(20_000, 66)), undefined, 'text')
  t.equal(pickStride(Buffer.alloc(100)), undefined, 'too short to tell')
  const f32 = Buffer.alloc(4 * 100_000)
  const r = randomBytes(f32.length, 65)
  for (let i = 0; i < 100_000; i++) f32.writeFloatLE(1 + (r.readUInt16LE(i * 2 % (r.length - 2)) - 32768) / 327680, i * 4)
  t.equal(pickStride(f32), 4, 'f32 norms: their own size, not a multiple of it')
})

t.test('replaceOp keeps whichever packs smaller', async (t) => {
  const rows = quantRows(40_000, 71)
  const plain = await replaceOp(0, rows, 9)
  const byColumn = await replaceOp(0, rows, 9, true)
  t.equal(plain.op.type, OpType.REPLACE)
  t.equal(byColumn.op.type, OpType.TRANSPOSED)
  t.ok(byColumn.payload.length < plain.payload.length, `by column ${byColumn.payload.length} B < in order ${plain.payload.length} B`)
  t.same(byColumn.op.sha256, sha256(rows), 'the op hash is of the bytes in order')
  const text = Buffer.from('a line of a changelog that compresses well\n'.repeat(5000))
  t.equal((await replaceOp(0, text, 9, true)).op.type, OpType.REPLACE, 'text stays a REPLACE')
})

t.test('at the default quality 9, a by-column stream is packed again at quality 10; other qualities keep one pass', async (t) => {
  const { brotli } = await import('../../server/delta/encode-op.js')
  const { brotliDecompressSync } = await import('node:zlib')
  const rows = quantRows(40_000, 72)
  const cols = transpose(rows, 18)
  const at9 = await brotli(cols, 9)
  const op9 = await replaceOp(0, rows, 9, true)
  t.equal(op9.op.type, OpType.TRANSPOSED)
  const stream9 = op9.payload.subarray(8)
  t.ok(stream9.length < at9.length, `quality 9 build: ${stream9.length} B < ${at9.length} B, the quality-9 stream`)
  t.ok(brotliDecompressSync(stream9).equals(cols), 'and it decodes to the same columns')
  const op5 = await replaceOp(0, rows, 5, true)
  t.same(op5.payload.subarray(8), await brotli(cols, 5), 'quality 5 (a fast build): the single pass as it is')
})

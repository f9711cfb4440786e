/**
 * One patch per format per pair: the version-1 twin of a version-2 patch (MEMBER ops
 * become REPLACE ops of the member's compressed bytes) rebuilds the same target with an
 * applier that refuses version 2, and a version-1 patch has no twin.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { applyDeltaStream, decodeHeader, decodeOpHeader, OpType } from '../../client-sdk/src/delta/index.js'
import { downgradeToV1, verifyPatch } from '../../server/delta/index.js'
import { DeltaBuildError } from '../../server/delta/bsdiff-window.js'
import { chunked, hex, memSource, MemSink, sampleDelta, sampleMemberDelta, sampleTransposedDelta, writePatch } from '../client-sdk/delta-fixtures.js'

async function files(t: Test, parts: Record<string, Buffer>) {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-downgrade-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const out: Record<string, string> = { dir }
  for (const [name, data] of Object.entries(parts)) await writeFile((out[name] = join(dir, name)), data)
  return out
}

function opTypes(patch: Buffer): number[] {
  const { opCount, version } = decodeHeader(patch.subarray(0, 128))
  const types: number[] = []
  for (let at = 128, i = 0; i < opCount; i++) {
    const op = decodeOpHeader(patch.subarray(at, at + 80), version)
    types.push(op.type)
    at += 80 + op.payloadLength
  }
  return types
}

t.test('a version-2 patch gets a version-1 twin that rebuilds the same target', async (t) => {
  const s = await sampleMemberDelta()
  const f = await files(t, { source: s.source, target: s.target, patch: s.patch })
  const twinPath = join(f.dir!, 'twin')
  const r = await downgradeToV1(f.patch!, f.target!, twinPath)
  t.same(r && { replaced: r.replaced }, { replaced: 1 })
  const twin = await readFile(twinPath)
  t.equal(r?.size, twin.length)
  const h = decodeHeader(twin.subarray(0, 128))
  t.equal(h.version, 1)
  t.same([h.sourceSize, h.targetSize, h.targetSha256.toString('hex')], [s.source.length, s.target.length, hex(s.target)])
  t.same(opTypes(twin), [OpType.COPY, OpType.REPLACE], 'the MEMBER op became a REPLACE op; the COPY is unchanged')
  t.same(opTypes(s.patch), [OpType.COPY, OpType.MEMBER])
  const sink = new MemSink()
  await applyDeltaStream({ source: memSource(s.source), patch: chunked(twin, 997), sink }, { expectedTargetSha256: hex(s.target) })
  t.ok(sink.data.equals(s.target), 'the twin rebuilds the target byte for byte')
  await verifyPatch(f.source!, twinPath, hex(s.target))
  t.ok(twin.length > s.patch.length, `the twin (${twin.length} B) pays for the member the v2 patch (${s.patch.length} B) diffs decoded`)
})

t.test('a version-3 patch gets a version-1 twin: sparse diff streams written out dense, MEMBER ops replaced', async (t) => {
  for (const [name, s, want] of [
    ['bsdiff', await sampleDelta(3), { replaced: 0, densified: 1, untransposed: 0, types: [OpType.COPY, OpType.REPLACE, OpType.BSDIFF] }],
    ['member', await sampleMemberDelta(3), { replaced: 1, densified: 0, untransposed: 0, types: [OpType.COPY, OpType.REPLACE] }],
    ['transposed', await sampleTransposedDelta(), { replaced: 0, densified: 0, untransposed: 1, types: [OpType.COPY, OpType.REPLACE] }],
  ] as const) {
    const f = await files(t, { source: s.source, target: s.target, patch: s.patch })
    const twinPath = join(f.dir!, 'twin')
    const r = await downgradeToV1(f.patch!, f.target!, twinPath)
    t.same(r && { replaced: r.replaced, densified: r.densified, untransposed: r.untransposed }, { replaced: want.replaced, densified: want.densified, untransposed: want.untransposed }, name)
    const twin = await readFile(twinPath)
    t.equal(decodeHeader(twin.subarray(0, 128)).version, 1, `${name}: version 1`)
    t.same(opTypes(twin), want.types, `${name}: op types`)
    const sink = new MemSink()
    await applyDeltaStream({ source: memSource(s.source), patch: chunked(twin, 997), sink }, { expectedTargetSha256: hex(s.target) })
    t.ok(sink.data.equals(s.target), `${name}: the twin rebuilds the target byte for byte`)
  }
  const dense = await sampleDelta(1)
  const sparse = await sampleDelta(3)
  const f = await files(t, { target: sparse.target, patch: sparse.patch })
  await downgradeToV1(f.patch!, f.target!, join(f.dir!, 'twin'))
  t.ok((await readFile(join(f.dir!, 'twin'))).equals(dense.patch), 'the bsdiff twin is byte for byte the version-1 build of the same ops')
})

t.test('a version-3 op whose diff records do not decode is refused and leaves no file', async (t) => {
  const s = await sampleDelta(3)
  // find the BSDIFF op and replace its diff stream by a brotli stream of a truncated record
  const { brotli } = await import('../../server/delta/encode-op.js')
  const bad = await brotli(Buffer.from([0, 5, 1]), 9)
  const ops = s.ops.map((o) => {
    if (o.op.type !== OpType.BSDIFF) return o
    const ctrl = o.payload.subarray(0, o.op.ctrlLength)
    const extra = o.payload.subarray(o.op.ctrlLength + o.op.diffLength)
    return { op: { ...o.op, diffLength: bad.length, payloadLength: ctrl.length + bad.length + extra.length }, payload: Buffer.concat([ctrl, bad, extra]) }
  })
  const f = await files(t, { target: s.target, patch: await writePatch(s.source, s.target, ops, undefined, 3) })
  const twinPath = join(f.dir!, 'twin')
  const err = await downgradeToV1(f.patch!, f.target!, twinPath).catch((e: unknown) => e)
  t.ok(err instanceof DeltaBuildError)
  t.match(err, { code: 'DELTA_BUILD_INPUT', message: /diff stream of the op at \d+ does not decode/ })
  await t.rejects(readFile(twinPath), { code: 'ENOENT' })
})

t.test('a TRANSPOSED op that does not decode, or decodes to other bytes, is refused and leaves no file', async (t) => {
  const s = await sampleTransposedDelta()
  const { brotli } = await import('../../server/delta/encode-op.js')
  const { encodeTransposeDescriptor, transpose } = await import('../../client-sdk/src/delta/transpose.js')
  for (const [what, payload, message] of [
    ['a stream one byte short', Buffer.concat([encodeTransposeDescriptor(18), await brotli(transpose(s.body, 18).subarray(1), 9)]), /transposed op at 1000 does not decode/],
    ['a stride of 1', Buffer.concat([encodeTransposeDescriptor(1), await brotli(s.body, 9)]), /transposed op at 1000 does not decode/],
    ['another stride', Buffer.concat([encodeTransposeDescriptor(17), await brotli(transpose(s.body, 18), 9)]), /transposed op at 1000 does not hash to what the patch records/],
  ] as const) {
    const op = { ...s.ops[1]!.op, payloadLength: payload.length }
    const f = await files(t, { target: s.target, patch: await writePatch(s.source, s.target, [s.ops[0]!, { op, payload }], undefined, 3) })
    const twinPath = join(f.dir!, 'twin')
    const err = await downgradeToV1(f.patch!, f.target!, twinPath).catch((e: unknown) => e)
    t.match(err, { code: 'DELTA_BUILD_INPUT', message }, what)
    await t.rejects(readFile(twinPath), { code: 'ENOENT' }, `${what}: no file`)
  }
})

t.test('a version-1 patch has no twin and nothing is written', async (t) => {
  const s = await sampleMemberDelta()
  const v1 = await writePatch(s.source, s.target, [s.ops[0]!, ...(await replaceAll(s))], undefined, 1)
  const f = await files(t, { target: s.target, patch: v1 })
  t.equal(await downgradeToV1(f.patch!, f.target!, join(f.dir!, 'twin')), undefined)
  await t.rejects(readFile(join(f.dir!, 'twin')), { code: 'ENOENT' })
})

t.test('a target that is not the one the patch was built for is refused and leaves no file', async (t) => {
  const s = await sampleMemberDelta()
  const other = Buffer.from(s.target)
  other[other.length - 10]! ^= 1
  const f = await files(t, { target: other, patch: s.patch })
  const twinPath = join(f.dir!, 'twin')
  const err = await downgradeToV1(f.patch!, f.target!, twinPath).catch((e: unknown) => e)
  t.ok(err instanceof DeltaBuildError)
  t.equal((err as DeltaBuildError).code, 'DELTA_BUILD_INPUT')
  await t.rejects(readFile(twinPath), { code: 'ENOENT' })
})

async function replaceAll(s: Awaited<ReturnType<typeof sampleMemberDelta>>) {
  const { replaceOp } = await import('../../server/delta/encode-op.js')
  return [await replaceOp(s.prefix.length, s.target.subarray(s.prefix.length), 9)]
}

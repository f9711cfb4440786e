/**
 * Format version 2: MEMBER ops rebuild a compressed stream inside the image from its
 * decoded bytes and re-encode it to the exact bytes recorded; bad members keep their
 * DELTA_* codes and write nothing of the op.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateRawSync } from 'node:zlib'
import t from 'tap'
import { applyDelta, applyDeltaStream, decodeHeader, DeltaError, encodeOpHeader } from '../../client-sdk/src/delta/index.js'
import { copyOp, sha256 } from '../../server/delta/encode-op.js'
import { changelog, chunked, hex, LEVEL9, memberOp, memSource, MemSink, randomBytes, sampleMemberDelta, writePatch } from './delta-fixtures.js'

const code = (e: unknown) => (e instanceof DeltaError ? e.code : `not a DeltaError: ${String(e)}`)

async function applyMem(source: Buffer, patch: Buffer, opts = {}) {
  const sink = new MemSink()
  const result = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 1000), sink }, opts)
  return { sink, result }
}

t.test('a MEMBER op rebuilds a changed deflate stream from a patch far smaller than the stream', async (t) => {
  const { source, target, patch, newComp } = await sampleMemberDelta()
  t.equal(decodeHeader(patch.subarray(0, 128)).version, 2)
  const { sink, result } = await applyMem(source, patch, { expectedTargetSha256: hex(target) })
  t.ok(sink.data.equals(target), 'target rebuilt byte for byte')
  t.equal(result.ops, 2)
  const payload = patch.length - 128 - 2 * 80
  t.ok(payload < newComp.length / 4, `member payload ${payload} B against ${newComp.length} B of changed deflate`)
})

t.test('a member without a source member: its decoded bytes come as extra', async (t) => {
  const raw = changelog(200, 21)
  const comp = deflateRawSync(raw, LEVEL9)
  const source = randomBytes(4096, 22)
  const target = Buffer.concat([source, comp])
  const ops = [copyOp(0, 0, source.length, sha256(source)), await memberOp(source.length, undefined, raw, [[0, raw.length, 0]], Buffer.alloc(0), raw)]
  const { sink } = await applyMem(source, await writePatch(source, target, ops, undefined, 2))
  t.ok(sink.data.equals(target))
})

/** The sample's MEMBER op with one descriptor field forged (the checks before any byte is written). */
async function forged(over: Parameters<typeof memberOp>[6]) {
  const s = await sampleMemberDelta()
  const src = { at: s.prefix.length, compressed: s.oldComp, raw: s.oldRaw }
  const head = s.ops[1]!
  // rebuild the member op with the same inner streams and a forged descriptor
  const payload = Buffer.from(head.payload)
  const m = await memberOp(s.prefix.length, src, s.newRaw, [[s.newRaw.length, 0, 0]], Buffer.alloc(0), Buffer.alloc(0), over)
  payload.set(m.payload.subarray(0, 24), 0)
  const patch = await writePatch(s.source, s.target, [s.ops[0]!, { op: head.op, payload }], undefined, 2)
  return { ...s, patch }
}

t.test('a source member that decodes to more than its declared size (a codec bomb) is DELTA_CORRUPT', async (t) => {
  const s = await sampleMemberDelta()
  const bomb = await forged({ sourceRawLength: s.oldRaw.length - 1 })
  await t.rejects(applyMem(bomb.source, bomb.patch), { code: 'DELTA_CORRUPT', message: /more than its declared size/ })
  const short = await forged({ sourceRawLength: s.oldRaw.length + 1 })
  await t.rejects(applyMem(short.source, short.patch), { code: 'DELTA_CORRUPT' })
})

t.test('declared member sizes above the op limit are refused before allocating', async (t) => {
  const big = await forged({ targetRawLength: 2 ** 40 })
  await t.rejects(applyMem(big.source, big.patch), { code: 'DELTA_SIZE_LIMIT' })
})

t.test('parameters that do not re-encode the recorded bytes are DELTA_MEMBER_MISMATCH, and nothing of the op is written', async (t) => {
  const s = await forged({ level: 1 })
  const sink = new MemSink()
  await t.rejects(applyDeltaStream({ source: memSource(s.source), patch: chunked(s.patch, 1000), sink }), { code: 'DELTA_MEMBER_MISMATCH' })
  t.ok(sink.data.length <= s.prefix.length, `only the COPY op's bytes were written (${sink.data.length})`)
})

t.test('unknown codec, bad parameters, and a MEMBER op inside a version-1 patch', async (t) => {
  const s = await sampleMemberDelta()
  const unknown = await forged({ codec: 9 })
  await t.rejects(applyMem(unknown.source, unknown.patch), { code: 'DELTA_UNSUPPORTED' })
  const window = await forged({ windowBits: 16 })
  await t.rejects(applyMem(window.source, window.patch), { code: 'DELTA_CORRUPT' })
  const v1 = await writePatch(s.source, s.target, s.ops, undefined, 1)
  await t.rejects(applyMem(s.source, v1), { code: 'DELTA_UNSUPPORTED' })
  // a MEMBER op whose payload cannot even hold its descriptor
  const tinyOp = encodeOpHeader({ ...s.ops[1]!.op, payloadLength: 10, ctrlLength: 0, diffLength: 0 })
  const tiny = Buffer.concat([s.patch.subarray(0, 128 + 80), tinyOp, Buffer.alloc(10)])
  t.equal(code(await applyMem(s.source, tiny).catch((e: unknown) => e)), 'DELTA_CORRUPT')
})

t.test('file to file: a failing member leaves the source as it was and no target when the source is wrong', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-member-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { source, target, patch } = await sampleMemberDelta()
  await writeFile(join(dir, 'src'), source)
  await writeFile(join(dir, 'patch'), patch)
  const r = await applyDelta(join(dir, 'src'), join(dir, 'patch'), join(dir, 'out'))
  t.ok((await readFile(join(dir, 'out'))).equals(target))
  t.equal(r.targetSha256, hex(target))
  const wrong = Buffer.from(source)
  wrong[wrong.length - 10] = wrong[wrong.length - 10]! ^ 1
  await writeFile(join(dir, 'wrong'), wrong)
  await t.rejects(applyDelta(join(dir, 'wrong'), join(dir, 'patch'), join(dir, 'none')), { code: 'DELTA_SOURCE_MISMATCH' })
  await t.rejects(stat(join(dir, 'none')), { code: 'ENOENT' }, 'target never opened')
  t.ok((await readFile(join(dir, 'src'))).equals(source))
})

/**
 * ApplyOptions.expectedPatchSha256 (client-sdk/src/delta/apply.ts): the patch is hashed as
 * it is read and one that differs is refused; with it and a checked source the ops' own
 * sha256s are not computed (each target byte is hashed once, into the image hash). Run on
 * both hashers (this thread and the worker) and every source-check mode.
 */
import t from 'tap'
import { applyDelta, applyDeltaStream, DeltaError, type ApplyOptions, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { HEADER_SIZE } from '../../client-sdk/src/delta/format.js'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chunked, hex, memSource, MemSink, sampleDelta } from './delta-fixtures.js'

const sample = await sampleDelta()
/** where op 0 (the COPY of source[1000, +3000)) keeps its srcOffset and its recorded sha256 */
const COPY_SRC_OFFSET = HEADER_SIZE + 24
const COPY_SHA256 = HEADER_SIZE + 48

const flipped = (at: number) => {
  const b = Buffer.from(sample.patch)
  b[at] = b[at]! ^ 1
  return b
}

async function run(patch: Buffer, opts: ApplyOptions, source = sample.source): Promise<{ code: string; target?: string }> {
  const sink = new MemSink()
  try {
    const r = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 1000), sink }, opts)
    return { code: `ok ${r.targetSha256 === hex(sample.target) && hex(sink.data) === hex(sample.target)}` }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : `not a DeltaError: ${String(e)}` }
  }
}

const modes = [
  { hashOnWorker: false, verifySource: true },
  { hashOnWorker: true, verifySource: true },
  { hashOnWorker: true, verifySource: 'alongside' },
  { hashOnWorker: false, verifySource: 'alongside' },
  { hashOnWorker: false, verifySource: false },
  { hashOnWorker: true, verifySource: false },
] as const

t.test('the signed patch applies as without the option, on either hasher and in every source-check mode', async (t) => {
  for (const m of modes) t.same(await run(sample.patch, { ...m, expectedPatchSha256: hex(sample.patch) }), { code: 'ok true' }, JSON.stringify(m))
  t.same(await run(sample.patch, { expectedPatchSha256: hex(sample.patch).toUpperCase() }), { code: 'ok true' }, 'upper-case hex is the same sha256')
})

t.test('with the patch verified, the ops’ own sha256s are not computed', async (t) => {
  // a patch whose COPY op records a wrong sha256 (a builder bug, say) but builds the right image:
  // without the option that op fails; with it (and this patch's own sha256) nothing looks at the field
  const wrongOpHash = flipped(COPY_SHA256)
  for (const m of modes) {
    t.same(await run(wrongOpHash, m), { code: 'DELTA_OP_HASH_MISMATCH' }, `without the option: ${JSON.stringify(m)}`)
    t.same(await run(wrongOpHash, { ...m, expectedPatchSha256: hex(wrongOpHash) }), { code: 'ok true' }, `with it: ${JSON.stringify(m)}`)
  }
})

t.test('an unchecked source with a verified patch: only the image is hashed, and a wrong source is named at the end', async (t) => {
  const expectedPatchSha256 = hex(sample.patch)
  // a byte the COPY op reads, and one only the BSDIFF op reads: both make the image hash fail
  for (const at of [1500, 25_000]) {
    const otherSource = Buffer.from(sample.source)
    otherSource[at] = otherSource[at]! ^ 1
    for (const hashOnWorker of [false, true]) {
      t.same(await run(sample.patch, { hashOnWorker, verifySource: false, expectedPatchSha256 }, otherSource), { code: 'DELTA_SOURCE_MISMATCH' }, `source byte ${at}, worker ${hashOnWorker}`)
    }
  }
  // the right source and a wrong image hash in the header: the source is hashed, found right, and the image named
  const { writePatch } = await import('./delta-fixtures.js')
  const wrongTarget = await writePatch(sample.source, sample.target, sample.ops, Buffer.alloc(32, 7))
  t.same(await run(wrongTarget, { verifySource: false, expectedPatchSha256: hex(wrongTarget) }), { code: 'DELTA_TARGET_HASH_MISMATCH' })
})

t.test('a patch that is not the signed one is DELTA_PATCH_HASH_MISMATCH, checked before the image', async (t) => {
  // the COPY reads one byte further on: a different, well-formed image that no op hash now checks
  for (const m of modes) t.same(await run(flipped(COPY_SRC_OFFSET), { ...m, expectedPatchSha256: hex(sample.patch) }), { code: 'DELTA_PATCH_HASH_MISMATCH' }, JSON.stringify(m))
  // an intact patch that is not the one the caller expects
  const other = '00'.repeat(32)
  const sink = new MemSink()
  const e = await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink }, { expectedPatchSha256: other }).catch((x: unknown) => x)
  t.type(e, DeltaError)
  t.equal((e as DeltaError).code, 'DELTA_PATCH_HASH_MISMATCH')
  t.same((e as DeltaError).details, { expected: other, actual: hex(sample.patch) }, 'both sha256s, lower-case hex')
  t.match((e as DeltaError).message, /patch does not match/)
})

t.test('damage that breaks an op first keeps that op’s code; a wrong source is still DELTA_SOURCE_MISMATCH', async (t) => {
  const expectedPatchSha256 = hex(sample.patch)
  t.same(await run(sample.patch.subarray(0, sample.patch.length - 7), { expectedPatchSha256 }), { code: 'DELTA_TRUNCATED' })
  t.same(await run(Buffer.concat([sample.patch, Buffer.from([0])]), { expectedPatchSha256 }), { code: 'DELTA_CORRUPT' }, 'trailing bytes')
  const otherSource = Buffer.from(sample.source)
  otherSource[60_000] = otherSource[60_000]! ^ 1 // a byte no op reads
  for (const m of modes) {
    // a checked source is refused whole; an unchecked one only matters where ops read it, and the image is right
    const want = m.verifySource === false ? 'ok true' : 'DELTA_SOURCE_MISMATCH'
    t.same(await run(sample.patch, { ...m, expectedPatchSha256 }, otherSource), { code: want }, JSON.stringify(m))
  }
})

t.test('a resume that starts reading at the recorded offset cannot hash the patch: the ops are checked instead', async (t) => {
  // a record after op 0 (the checkpoint comes once a byte is written)
  const records: DeltaProgress[] = []
  const sink = new MemSink()
  await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 1000), sink }, { checkpointBytes: 1, onProgress: (p) => void records.push(p) })
  const record = records[0]!
  t.equal(record.opsDone, 1)
  const resumed = (patch: Buffer, opts: ApplyOptions) => {
    sink.data = Buffer.from(sample.target.subarray(0, record.targetOffset))
    return applyDeltaStream({ source: memSource(sample.source), patch: chunked(patch, 1000), sink }, { resume: record, ...opts })
  }
  await t.rejects(
    resumed(flipped(COPY_SRC_OFFSET), { expectedPatchSha256: hex(sample.patch) }),
    { code: 'DELTA_PATCH_HASH_MISMATCH' },
    'resumed from the patch’s first byte: the skipped op is hashed too',
  )
  // resumed at the recorded offset: no patch hash, so op 1's own sha256 is checked
  const wrongOp1 = flipped(record.patchOffset + 48).subarray(record.patchOffset)
  await t.rejects(resumed(wrongOp1, { patchStartsAtResume: true, expectedPatchSha256: hex(sample.patch) }), { code: 'DELTA_OP_HASH_MISMATCH' })
  const r = await resumed(sample.patch.subarray(record.patchOffset), { patchStartsAtResume: true, expectedPatchSha256: '11'.repeat(32) })
  t.equal(r.targetSha256, hex(sample.target), 'a sha256 it cannot check is not held against the patch')
  t.equal(r.resumedOps, 1)
  t.ok(sink.data.equals(sample.target))
})

t.test('expectedPatchSha256 must be a hex sha256: anything else is a programming error, thrown before reading', async (t) => {
  const hex64 = 'a'.repeat(64)
  for (const bad of ['', 'abc', 'g'.repeat(64), '0'.repeat(63), 'a'.repeat(65), `z${hex64}`, `${hex64}z`, ' '.repeat(64), 42, null]) {
    let read = false
    const patch = (async function* () {
      read = true
      yield sample.patch
    })()
    await t.rejects(
      applyDeltaStream({ source: memSource(sample.source), patch, sink: new MemSink() }, { expectedPatchSha256: bad as string }),
      { name: 'TypeError', message: /expectedPatchSha256 must be a hex sha256/ },
      JSON.stringify(bad),
    )
    t.notOk(read, 'the patch was not read')
  }
})

t.test('the TypeError quotes the value, cut at 80 characters, and says so for values JSON cannot show', async (t) => {
  const refused = async (value: unknown) =>
    ((await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink: new MemSink() }, { expectedPatchSha256: value as string }).catch((e: unknown) => e)) as Error)
      .message
  t.equal(await refused('x'.repeat(200)), `expectedPatchSha256 must be a hex sha256, not "${'x'.repeat(79)}`)
  t.equal(await refused(() => 'a'.repeat(64)), 'expectedPatchSha256 must be a hex sha256, not undefined', 'a function: JSON has no text for it')
})

t.test('an unchecked source whose compressed member changed is named, whatever the member op made of it', async (t) => {
  // MEMBER ops (format 2) read the source member's deflate stream: a changed byte there
  // makes it fail to inflate (DELTA_CORRUPT) or inflate to text that re-encodes to other
  // bytes (DELTA_MEMBER_MISMATCH) before any hash is taken; the source is hashed then
  const { sampleMemberDelta } = await import('./delta-fixtures.js')
  const m = await sampleMemberDelta()
  const codes = new Set<string>()
  for (let at = m.prefix.length; at < m.source.length; at += 7) {
    const otherSource = Buffer.from(m.source)
    otherSource[at] = otherSource[at]! ^ 0x10
    for (const expectedPatchSha256 of [undefined, hex(m.patch)]) {
      const sink = new MemSink()
      try {
        await applyDeltaStream({ source: memSource(otherSource), patch: chunked(m.patch, 4096), sink }, { verifySource: false, ...(expectedPatchSha256 && { expectedPatchSha256 }) })
        codes.add('applied')
      } catch (e) {
        codes.add(e instanceof DeltaError ? e.code : String(e))
      }
    }
  }
  t.same([...codes], ['DELTA_SOURCE_MISMATCH'], `every changed member byte, ${Math.ceil((m.source.length - m.prefix.length) / 7)} of them, with and without the patch sha256`)
})

t.test('verifySource true means before: on the hash worker too, a wrong source is refused with nothing written', async (t) => {
  // 8 MiB of source and a 4 MiB COPY: hashed beside the ops ('alongside'), the copy's
  // chunks would be written long before the source's last byte is hashed
  const { randomBytes, writePatch } = await import('./delta-fixtures.js')
  const { copyOp, sha256 } = await import('../../server/delta/encode-op.js')
  const source = randomBytes(8 << 20, 21)
  const target = source.subarray(1 << 20, 5 << 20)
  const patch = await writePatch(source, target, [copyOp(0, 1 << 20, target.length, sha256(target))])
  const wrong = Buffer.from(source)
  wrong[wrong.length - 1] = wrong[wrong.length - 1]! ^ 1
  for (const expectedPatchSha256 of [undefined, hex(patch)]) {
    const sink = new MemSink()
    await t.rejects(
      applyDeltaStream({ source: memSource(wrong), patch: chunked(patch, 65_536), sink }, { hashOnWorker: true, ...(expectedPatchSha256 && { expectedPatchSha256 }) }),
      { code: 'DELTA_SOURCE_MISMATCH' },
    )
    t.equal(sink.writes, 0, `nothing written (patch sha256 ${expectedPatchSha256 ? 'given' : 'not given'})`)
  }
})

t.test('applyDelta on files: the staged patch is checked as it is read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-patch-hash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const [src, patch, out] = ['src', 'patch', 'out'].map((n) => join(dir, n)) as [string, string, string]
  await writeFile(src, sample.source)
  await writeFile(patch, sample.patch)
  const ok = await applyDelta(src, patch, out, { verifySource: 'alongside', expectedPatchSha256: hex(sample.patch) })
  t.equal(ok.targetSha256, hex(sample.target))
  t.ok((await readFile(out)).equals(sample.target))
  // the file changed after it was verified on download
  await writeFile(patch, flipped(COPY_SRC_OFFSET))
  await t.rejects(applyDelta(src, patch, out, { verifySource: 'alongside', expectedPatchSha256: hex(sample.patch) }), { code: 'DELTA_PATCH_HASH_MISMATCH' })
})

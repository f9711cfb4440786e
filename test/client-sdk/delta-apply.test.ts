import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import {
  applyDelta,
  applyDeltaStream,
  DeltaError,
  encodeHeader,
  decodeHeader,
  type DeltaProgress,
} from '../../client-sdk/src/delta/index.js'
import { copyOp, sha256 } from '../../server/delta/encode-op.js'
import { chunked, hex, memSource, MemSink, randomBytes, sampleDelta, writePatch } from './delta-fixtures.js'

const code = (e: unknown) => (e instanceof DeltaError ? e.code : `not a DeltaError: ${String(e)}`)

async function applyMem(source: Buffer, patch: Buffer, opts = {}, chunk = 4096) {
  const sink = new MemSink()
  const result = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, chunk), sink }, opts)
  return { sink, result }
}

t.test('rebuilds the target from COPY, REPLACE and BSDIFF ops, from a stream cut into odd chunks', async (t) => {
  const { source, target, patch } = await sampleDelta()
  for (const chunk of [7, 4096, patch.length]) {
    const { sink, result } = await applyMem(source, patch, { expectedTargetSha256: hex(target) }, chunk)
    t.ok(sink.data.equals(target), `chunk ${chunk}: target rebuilt`)
    t.equal(result.targetSha256, hex(target))
    t.equal(result.ops, 3)
  }
})

t.test('applies file to file, and never touches the target when the source is wrong', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-apply-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { source, target, patch } = await sampleDelta()
  await writeFile(join(dir, 'src'), source)
  await writeFile(join(dir, 'patch'), patch)
  const r = await applyDelta(join(dir, 'src'), join(dir, 'patch'), join(dir, 'out'))
  t.ok((await readFile(join(dir, 'out'))).equals(target))
  t.equal(r.targetSha256, hex(target))

  const wrong = Buffer.from(source)
  wrong[50_000] = wrong[50_000]! ^ 1
  await writeFile(join(dir, 'wrong'), wrong)
  await t.rejects(applyDelta(join(dir, 'wrong'), join(dir, 'patch'), join(dir, 'untouched')), { code: 'DELTA_SOURCE_MISMATCH' })
  await t.rejects(stat(join(dir, 'untouched')), { code: 'ENOENT' }, 'target was never opened')
  await writeFile(join(dir, 'short'), source.subarray(0, 100))
  await t.rejects(applyDelta(join(dir, 'short'), join(dir, 'patch'), join(dir, 'untouched')), { code: 'DELTA_SOURCE_MISMATCH' })
})

t.test('with the up-front check off a wrong source is caught op by op, after some writes, and still named a wrong source', async (t) => {
  const { source, patch } = await sampleDelta()
  const wrong = Buffer.from(source)
  wrong[2000] = wrong[2000]! ^ 1
  const sink = new MemSink()
  const reads: number[] = []
  const src = memSource(wrong)
  const counted = { size: src.size, read: (b: Buffer, p: number) => (reads.push(b.length), src.read(b, p)) }
  const err = await applyDeltaStream({ source: counted, patch: chunked(patch, 4096), sink }, { verifySource: false }).catch((e: unknown) => e)
  t.equal(code(err), 'DELTA_SOURCE_MISMATCH', 'the failing op had the source hashed: it is the source that is wrong')
  t.ok(sink.data.length > 0, 'the target was written before the failing op was found')
  t.ok(reads.reduce((a, b) => a + b, 0) >= wrong.length, 'the source was read whole only after the failure')
  // a corrupt patch on the right source is still a corrupt op: the source hash clears the source
  const forged = Buffer.from(patch)
  const h = decodeHeader(forged.subarray(0, 128))
  t.ok(h.opCount > 0)
  forged[128 + 48] = forged[128 + 48]! ^ 1 // first op header's sha256 (offset 48 in the 80-byte op header)
  const bad = await applyMem(source, forged, { verifySource: false }).catch((e: unknown) => e)
  t.equal(code(bad), 'DELTA_OP_HASH_MISMATCH')
})

t.test('a verifySource that is neither false nor alongside (a JavaScript caller) checks before writing, as the default', async (t) => {
  const { source, patch } = await sampleDelta()
  const wrong = Buffer.from(source)
  wrong[50] = wrong[50]! ^ 1 // a byte no op reads: only the whole-source check sees it
  for (const v of [1, 'yes', 'Alongside', null]) {
    const sink = new MemSink()
    const err = await applyDeltaStream({ source: memSource(wrong), patch: chunked(patch, 4096), sink }, { verifySource: v as never }).catch((e: unknown) => e)
    t.equal(code(err), 'DELTA_SOURCE_MISMATCH', String(v))
    t.equal(sink.writes, 0, `${String(v)}: nothing written`)
  }
})

t.test('with the up-front check off a right source is never read whole', async (t) => {
  const { source, target, patch } = await sampleDelta()
  let bytes = 0
  const src = memSource(source)
  const counted = { size: src.size, read: (b: Buffer, p: number) => ((bytes += b.length), src.read(b, p)) }
  const sink = new MemSink()
  await applyDeltaStream({ source: counted, patch: chunked(patch, 4096), sink }, { verifySource: false })
  t.ok(sink.data.equals(target))
  const checked = { n: 0 }
  const src2 = memSource(source)
  await applyDeltaStream({ source: { size: src2.size, read: (b: Buffer, p: number) => ((checked.n += b.length), src2.read(b, p)) }, patch: chunked(patch, 4096), sink: new MemSink() }, {})
  t.equal(checked.n - bytes, source.length, 'the default check reads the whole source once more, the unchecked apply does not')
})

t.test('refuses a patch for another target before reading the source', async (t) => {
  const { source, patch } = await sampleDelta()
  await t.rejects(applyMem(source, patch, { expectedTargetSha256: 'ab'.repeat(32) }), { code: 'DELTA_TARGET_MISMATCH' })
})

t.test('every truncation is DELTA_TRUNCATED', async (t) => {
  const { source, patch } = await sampleDelta()
  const cuts = [0, 5, 127, 128, 129, 200, 208, 209, patch.length - 1]
  for (const cut of cuts) {
    const e = await applyMem(source, patch.subarray(0, cut)).catch((e: unknown) => e)
    t.equal(code(e), 'DELTA_TRUNCATED', `cut at ${cut}`)
  }
})

t.test('bad magic, trailing bytes, flipped header byte', async (t) => {
  const { source, patch } = await sampleDelta()
  const notDelta = Buffer.from(patch)
  notDelta.write('BSDIFF40', 0, 'latin1')
  await t.rejects(applyMem(source, notDelta), { code: 'DELTA_BAD_MAGIC' })
  await t.rejects(applyMem(source, Buffer.concat([patch, Buffer.from([0])])), { code: 'DELTA_CORRUPT' })
  const flipped = Buffer.from(patch)
  flipped[20] = flipped[20]! ^ 0x10
  await t.rejects(applyMem(source, flipped), { code: 'DELTA_CORRUPT' })
})

t.test('absurd sizes in a well-formed header are refused before any allocation', async (t) => {
  const { source, patch } = await sampleDelta()
  const h = decodeHeader(patch.subarray(0, 128))
  const forge = (over: Partial<typeof h>) => Buffer.concat([encodeHeader({ ...h, ...over }), patch.subarray(128)])
  await t.rejects(applyMem(source, forge({ maxPayload: 0xffff_ffff })), { code: 'DELTA_SIZE_LIMIT' })
  await t.rejects(applyMem(source, forge({ targetSize: 2 ** 52 })), { code: 'DELTA_SIZE_LIMIT' })
  await t.rejects(applyMem(source, forge({ sourceSize: 2 ** 50 })), { code: 'DELTA_SIZE_LIMIT' })
  await t.rejects(applyMem(source, forge({ opCount: 10 ** 9 })), { code: 'DELTA_CORRUPT' })
  // raw 2^64-1 in a u64 field, checksum fixed up
  const raw = Buffer.from(patch)
  raw.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 24)
  await t.rejects(
    applyMem(source, Buffer.concat([encodeHeaderRaw(raw.subarray(0, 128)), patch.subarray(128)])),
    { code: 'DELTA_SIZE_LIMIT' },
  )
  // an op payload larger than the header's maximum
  await t.rejects(applyMem(source, forge({ maxPayload: 10 })), { code: 'DELTA_CORRUPT' })
})

function encodeHeaderRaw(b: Buffer): Buffer {
  const out = Buffer.from(b)
  sha256(out.subarray(0, 112)).copy(out, 112, 0, 16)
  return out
}

t.test('ops that read outside the source are DELTA_OUT_OF_SOURCE', async (t) => {
  const source = randomBytes(10_000, 3)
  const target = source.subarray(9000, 10_000)
  const beyond = Buffer.concat([target.subarray(0, 500), Buffer.alloc(500)])
  const patch = await writePatch(source, beyond, [copyOp(0, 9500, 1000, sha256(beyond))])
  await t.rejects(applyMem(source, patch), { code: 'DELTA_OUT_OF_SOURCE' })
})

t.test('resumes at an op boundary after a crash, from the start of the patch or from the recorded offset', async (t) => {
  const source = randomBytes(300_000, 11)
  const target = Buffer.concat([source.subarray(100_000), source.subarray(0, 100_000)])
  const ops = []
  for (let at = 0; at < target.length; at += 50_000) {
    const src = (at + 100_000) % 300_000
    ops.push(copyOp(at, src, 50_000, sha256(target.subarray(at, at + 50_000))))
  }
  const patch = await writePatch(source, target, ops)
  const crash = async () => {
    const sink = new MemSink()
    let saved: DeltaProgress | undefined
    let n = 0
    const e = await applyDeltaStream(
      { source: memSource(source), patch: chunked(patch, 1000), sink },
      {
        checkpointBytes: 1,
        onProgress: (p) => {
          saved = p
          if (++n === 3) throw new Error('power cut')
        },
      },
    ).catch((e: unknown) => e)
    t.match(e, { message: 'power cut' })
    return { sink, saved: saved! }
  }
  const a = await crash()
  t.equal(a.saved.opsDone, 3)
  const r1 = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 999), sink: a.sink }, { resume: a.saved })
  t.equal(r1.resumedOps, 3)
  t.ok(a.sink.data.equals(target))

  const b = await crash()
  const rest = patch.subarray(b.saved.patchOffset)
  const r2 = await applyDeltaStream(
    { source: memSource(source), patch: chunked(rest, 4096), sink: b.sink },
    { resume: b.saved, patchStartsAtResume: true },
  )
  t.equal(r2.targetSha256, hex(target))

  const c = await crash()
  c.sink.data[10] = c.sink.data[10]! ^ 1 // the slot lost a write
  await t.rejects(applyDeltaStream({ source: memSource(source), patch: chunked(patch, 4096), sink: c.sink }, { resume: c.saved }), {
    code: 'DELTA_RESUME_MISMATCH',
  })
  const other = await sampleDelta()
  await t.rejects(applyDeltaStream({ source: memSource(source), patch: chunked(other.patch, 4096), sink: c.sink }, { resume: c.saved }), {
    code: 'DELTA_RESUME_MISMATCH',
  })
})

t.test('file apply records progress in a file and resumes from it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-apply-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const source = randomBytes(200_000, 5)
  const target = Buffer.concat([source.subarray(150_000), source.subarray(0, 150_000)])
  const ops = [0, 50_000, 100_000, 150_000].map((at) =>
    copyOp(at, (at + 150_000) % 200_000, 50_000, sha256(target.subarray(at, at + 50_000))),
  )
  await writeFile(join(dir, 'src'), source)
  await writeFile(join(dir, 'patch'), await writePatch(source, target, ops))
  const progressPath = join(dir, 'progress.json')
  let n = 0
  await t.rejects(
    applyDelta(join(dir, 'src'), join(dir, 'patch'), join(dir, 'out'), {
      progressPath,
      checkpointBytes: 1,
      onProgress: () => {
        if (++n === 2) throw Object.assign(new Error('crash'), { code: 'TEST_CRASH' })
      },
    }),
    { code: 'TEST_CRASH' },
    'the crash in the progress callback stops the apply, and is what the caller sees',
  )
  t.ok((await stat(progressPath)).isFile(), 'progress recorded')
  const r = await applyDelta(join(dir, 'src'), join(dir, 'patch'), join(dir, 'out'), { progressPath })
  t.equal(r.resumedOps, 2)
  t.ok((await readFile(join(dir, 'out'))).equals(target))
  await t.rejects(stat(progressPath), { code: 'ENOENT' }, 'progress removed on success')
})

t.test('a REPLACE op that decodes to more than it declares, or an op over the output limit, is refused', async (t) => {
  const source = randomBytes(1000, 12)
  const big = Buffer.alloc(1 << 20) // compresses to a few bytes: a small bomb
  const { replaceOp } = await import('../../server/delta/encode-op.js')
  const bomb = await replaceOp(0, big, 5)
  const declared = big.subarray(0, 1000)
  bomb.op.targetLength = 1000
  bomb.op.sha256 = sha256(declared)
  const patch = await writePatch(source, declared, [bomb])
  await t.rejects(applyMem(source, patch), { code: 'DELTA_CORRUPT' })
  const honest = await writePatch(source, big, [await replaceOp(0, big, 5)])
  await t.rejects(applyMem(source, honest, { limits: { maxOpTargetBytes: 1000 } }), { code: 'DELTA_SIZE_LIMIT' })
  t.equal((await applyMem(source, honest)).result.targetSize, big.length)
})

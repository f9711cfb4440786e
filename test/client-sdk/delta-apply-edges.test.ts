/**
 * The apply driver at its edges (client-sdk/src/delta/apply.ts): each refusal of the
 * header, the op loop, the end of the patch and resume, with its message and details;
 * the limits and the source size at exactly their value; progress records (when, how
 * often, what they hold, sync before record); what the result says. COPY ops over small
 * random images, so it runs in about a second: `npm run mutate -- --area delta` runs it
 * before the slower apply and fuzz tests.
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import { applyDeltaStream, DeltaError, decodeHeader, encodeHeader, encodeOpHeader, type DeltaProgress, type TargetSink } from '../../client-sdk/src/delta/index.js'
import { copyOp, replaceOp, sha256 } from '../../server/delta/encode-op.js'
import { chunked, hex, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

const source = randomBytes(40_000, 61)
/** target = source[30000, 40000) + source[0, 10000) + source[10000, 20000): three COPY ops of 10,000 bytes */
const pieces = [30_000, 0, 10_000]
const target = Buffer.concat(pieces.map((s) => source.subarray(s, s + 10_000)))
const ops = pieces.map((s, i) => copyOp(i * 10_000, s, 10_000, sha256(target.subarray(i * 10_000, (i + 1) * 10_000))))
const patch = await writePatch(source, target, ops)
const header = decodeHeader(patch.subarray(0, 128))
/** the same patch with header fields changed (checksum recomputed) */
const forge = (over: Partial<typeof header>, rest = patch.subarray(128)) => Buffer.concat([encodeHeader({ ...header, ...over }), rest])

async function run(p: Buffer, opts: Parameters<typeof applyDeltaStream>[1] = {}, sink: TargetSink = new MemSink(), src = source) {
  try {
    const result = await applyDeltaStream({ source: memSource(src), patch: chunked(p, 777), sink }, opts)
    return { code: 'ok', result }
  } catch (e) {
    if (!(e instanceof DeltaError)) return { code: `not a DeltaError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

t.test('the result: the target hash and size, the op count, nothing resumed; the sink synced once at the end', async (t) => {
  let syncs = 0
  const sink = new MemSink()
  const synced = Object.assign(sink, { sync: async () => void syncs++ })
  const r = await run(patch, {}, synced)
  t.same(r, { code: 'ok', result: { targetSha256: hex(target), targetSize: 30_000, ops: 3, resumedOps: 0, workerOps: 0 } })
  t.ok(sink.data.equals(target))
  t.equal(syncs, 1, 'no checkpoint under 64 MiB: one sync, at the end')
  t.same((await run(patch, { expectedTargetSha256: hex(target).toUpperCase() })).code, 'ok', 'the expected hash in upper case')
  t.same((await run(patch, {}, new MemSink(), Buffer.concat([source, Buffer.from('more')]))).code, 'ok', 'a source larger than the image (a partition)')
})

t.test('header refusals, with what they name', async (t) => {
  t.same(await run(patch.subarray(0, 127)), { code: 'DELTA_TRUNCATED', message: 'patch ends inside its header', details: undefined })
  t.same(await run(patch, { expectedTargetSha256: 'ab'.repeat(32) }), {
    code: 'DELTA_TARGET_MISMATCH',
    message: 'patch builds a different target than expected',
    details: { expected: 'ab'.repeat(32), patchTarget: hex(target) },
  })
  const limits = { maxImageBytes: 40_000, maxPayloadBytes: header.maxPayload }
  t.equal((await run(patch, { limits })).code, 'ok', 'source size, target size and largest payload exactly at their limits')
  t.same(await run(patch, { limits: { maxImageBytes: 39_999 } }), {
    code: 'DELTA_SIZE_LIMIT',
    message: 'sourceSize 40000 exceeds the limit 39999',
    details: { field: 'sourceSize', value: 40_000, limit: 39_999 },
  })
  t.same(await run(forge({ sourceSize: 1000 }), { limits: { maxImageBytes: 29_999 }, verifySource: false }), {
    code: 'DELTA_SIZE_LIMIT',
    message: 'targetSize 30000 exceeds the limit 29999',
    details: { field: 'targetSize', value: 30_000, limit: 29_999 },
  })
  const big = forge({ maxPayload: 100 })
  t.same(await run(big, { limits: { maxPayloadBytes: 99 } }), {
    code: 'DELTA_SIZE_LIMIT',
    message: 'maxPayload 100 exceeds the limit 99',
    details: { field: 'maxPayload', value: 100, limit: 99 },
  })
  t.same(await run(forge({ opCount: 30_001 })), { code: 'DELTA_CORRUPT', message: 'more ops than target bytes', details: { opCount: 30_001 } })
  t.not((await run(forge({ opCount: 30_000 }))).message, 'more ops than target bytes', 'one op per target byte is allowed')
})

t.test('the source: smaller than the header says, or not the one the patch was built from', async (t) => {
  t.same(await run(patch, {}, new MemSink(), source.subarray(0, 39_999)), {
    code: 'DELTA_SOURCE_MISMATCH',
    message: 'source image is smaller than the patch expects',
    details: { expected: 40_000, actual: 39_999 },
  })
  const wrong = Buffer.from(source)
  wrong[25_000] = wrong[25_000]! ^ 1 // a byte no op reads: only the up-front check sees it
  t.same(await run(patch, {}, new MemSink(), wrong), {
    code: 'DELTA_SOURCE_MISMATCH',
    message: 'source image does not match the sha256 the patch was built from',
    details: { expected: header.sourceSha256.toString('hex') },
  })
  t.equal((await run(patch, { verifySource: false }, new MemSink(), wrong)).code, 'ok', 'the check is off: the ops never read that byte')
  t.equal((await run(patch, { verifySource: true }, new MemSink(), wrong)).code, 'DELTA_SOURCE_MISMATCH')
})

t.test('a source larger than one read: every chunk is hashed', async (t) => {
  const src = randomBytes((1 << 20) + 5000, 62)
  const tgt = src.subarray(100, 200)
  const p = await writePatch(src, tgt, [copyOp(0, 100, 100, sha256(tgt))])
  t.equal((await run(p, {}, new MemSink(), src)).code, 'ok')
  const tail = Buffer.from(src)
  tail[src.length - 1] = tail[src.length - 1]! ^ 1
  t.equal((await run(p, {}, new MemSink(), tail)).message, 'source image does not match the sha256 the patch was built from', 'the last byte of the second chunk')
})

t.test('op loop refusals, with the op they name', async (t) => {
  // the second and third op headers swapped (COPY ops have no payload: 80 bytes each)
  const gap = Buffer.concat([patch.subarray(0, 208), patch.subarray(288, 368), patch.subarray(208, 288)])
  t.same(await run(gap), {
    code: 'DELTA_CORRUPT',
    message: 'op does not continue the target where the previous one ended',
    details: { op: 1, targetOffset: 20_000, expected: 10_000 },
  })
  // the last op runs past the header's target size
  const past = Buffer.concat([patch.subarray(0, 288), encodeOpHeader({ ...ops[2]!.op, targetLength: 10_001, srcLength: 10_001 })])
  t.same(await run(past), {
    code: 'DELTA_CORRUPT',
    message: 'op does not continue the target where the previous one ended',
    details: { op: 2, targetOffset: 20_000, expected: 20_000 },
  })
  const replace = await writePatch(source, Buffer.from('hello world'), [await replaceOp(0, Buffer.from('hello world'), 5)])
  t.same(await run(replace.subarray(0, replace.length - 1)), { code: 'DELTA_TRUNCATED', message: 'patch ends inside an op payload', details: { op: 0 } })
  t.same(await run(patch.subarray(0, 128 + 80 + 40)), { code: 'DELTA_TRUNCATED', message: 'patch ends before its last op', details: undefined })
  const bad = Buffer.from(patch)
  bad[128 + 80 + 48] = bad[128 + 80 + 48]! ^ 1 // the second op's sha256
  t.same(await run(bad), { code: 'DELTA_OP_HASH_MISMATCH', message: 'op 1 output does not match its sha256', details: { op: 1, targetOffset: 10_000 } })
  const rh = decodeHeader(replace.subarray(0, 128))
  const tooBig = Buffer.concat([encodeHeader({ ...rh, maxPayload: rh.maxPayload - 1 }), replace.subarray(128)])
  t.same(await run(tooBig, {}, new MemSink(), source), {
    code: 'DELTA_CORRUPT',
    message: 'op payload is larger than the header allows',
    details: { payloadLength: rh.maxPayload, maxPayload: rh.maxPayload - 1 },
  })
})

t.test('the end of the patch: ops that fall short, trailing bytes, the image hash', async (t) => {
  t.same(await run(forge({ targetSize: 30_001 })), {
    code: 'DELTA_CORRUPT',
    message: 'ops do not cover the whole target',
    details: { written: 30_000, targetSize: 30_001 },
  })
  t.same(await run(Buffer.concat([patch, Buffer.from([0])])), { code: 'DELTA_CORRUPT', message: 'trailing bytes after the last op', details: undefined })
  const other = sha256(Buffer.from('another image'))
  const lying = await writePatch(source, target, ops, other)
  t.same(await run(lying), {
    code: 'DELTA_TARGET_HASH_MISMATCH',
    message: 'rebuilt image does not match the target sha256',
    details: { expected: other.toString('hex'), actual: hex(target) },
  })
})

/** An apply that records progress and stops (a power cut) in the `stopAt`-th record. */
async function interrupted(checkpointBytes: number, stopAt = Infinity) {
  const sink = new MemSink()
  const events: string[] = []
  const records: DeltaProgress[] = []
  Object.assign(sink, { sync: async () => void events.push(`sync ${sink.data.length}`) })
  const r = await run(
    patch,
    {
      checkpointBytes,
      onProgress: (p) => {
        events.push(`record ${p.opsDone}`)
        records.push(p)
        if (records.length === stopAt) throw new DeltaError('DELTA_TRUNCATED', 'power cut')
      },
    },
    sink,
  )
  return { r, sink, events, records }
}

t.test('progress: recorded every checkpointBytes (inclusive), never after the last op, after the bytes are synced', async (t) => {
  const every = await interrupted(10_000)
  t.equal(every.r.code, 'ok')
  t.same(every.events, ['sync 10000', 'record 1', 'sync 20000', 'record 2', 'sync 30000'], 'a record per op of exactly 10,000 bytes; none after the last')
  const prefix = (n: number) => createHash('sha256').update(target.subarray(0, n)).digest('hex')
  t.same(every.records[0], {
    format: 1,
    header: patch.subarray(0, 128).toString('base64'),
    opsDone: 1,
    patchOffset: 128 + 80,
    targetOffset: 10_000,
    prefixSha256: prefix(10_000),
  })
  t.same(every.records[1], { ...every.records[0], opsDone: 2, patchOffset: 128 + 160, targetOffset: 20_000, prefixSha256: prefix(20_000) })
  const two = await interrupted(20_000)
  t.same(two.events, ['sync 20000', 'record 2', 'sync 30000'], 'every two ops: the count starts again after a record')
  const over = await interrupted(10_001)
  t.same(over.events, ['sync 20000', 'record 2', 'sync 30000'], 'one byte more than an op: a record every second op')
  const none = await interrupted(30_000)
  t.same(none.events, ['sync 30000'], 'a checkpoint that falls on the last op records nothing')
  let records = 0
  t.equal((await run(patch, { onProgress: () => void records++ })).code, 'ok')
  t.equal(records, 0, 'by default a checkpoint is 64 MiB: none in a 30 kB target')
})

t.test('resume: from the start of the patch or from the recorded offset, and each refusal', async (t) => {
  const cut = await interrupted(10_000, 2)
  t.same(cut.r, { code: 'DELTA_TRUNCATED', message: 'power cut', details: undefined })
  const saved = cut.records[1]!
  const again = await run(patch, { resume: saved }, cut.sink)
  t.same(again, { code: 'ok', result: { targetSha256: hex(target), targetSize: 30_000, ops: 3, resumedOps: 2, workerOps: 0 } })
  t.ok(cut.sink.data.equals(target))
  const fromOffset = await run(patch.subarray(saved.patchOffset), { resume: saved, patchStartsAtResume: true }, cut.sink)
  t.equal(fromOffset.code, 'ok', 'the rest of the patch only')
  t.equal((await run(patch, { patchStartsAtResume: true })).code, 'ok', 'patchStartsAtResume without a resume record: the whole patch')

  const mismatch = (message: string) => ({ code: 'DELTA_RESUME_MISMATCH', message, details: undefined })
  const otherPatch = forge({ targetSha256: sha256(Buffer.from('x')) })
  t.same(await run(otherPatch, { resume: saved }, cut.sink), mismatch('resume state belongs to another patch'))
  t.same(await run(patch, { resume: { ...saved, opsDone: 4 } }, cut.sink), mismatch('resume state is malformed'))
  const noRead: TargetSink = { write: async () => {} }
  t.same(await run(patch, { resume: saved }, noRead), mismatch('this target cannot be read back, so it cannot resume'))
  const shortSink = new MemSink()
  shortSink.data = cut.sink.data.subarray(0, 19_999)
  t.same(await run(patch, { resume: saved }, shortSink), mismatch('target is shorter than the recorded progress'))
  const changed = new MemSink()
  changed.data = Buffer.from(target.subarray(0, 20_000))
  changed.data[19_999] = changed.data[19_999]! ^ 1
  t.same(await run(patch, { resume: saved }, changed), mismatch('target prefix on disk differs from what was written; restart from scratch'))
  const longer = new MemSink()
  longer.data = Buffer.concat([target.subarray(0, 20_000), Buffer.from('junk after the prefix')])
  t.equal((await run(patch, { resume: saved }, longer)).code, 'ok', 'only the recorded prefix is re-read')
  t.same(await run(patch, { resume: { ...saved, patchOffset: saved.patchOffset + 1 } }, cut.sink), mismatch('recorded patch offset does not match the op boundary'))
  // a REPLACE op already applied, in a patch cut inside its payload: skipping it finds the cut
  const hello = Buffer.from('hello world')
  const one = await writePatch(source, hello, [await replaceOp(0, hello, 5)])
  const done = new MemSink()
  done.data = Buffer.from(hello)
  const record: DeltaProgress = { format: 1, header: one.subarray(0, 128).toString('base64'), opsDone: 1, patchOffset: one.length, targetOffset: 11, prefixSha256: hex(hello) }
  t.same(await run(one.subarray(0, one.length - 1), { resume: record }, done), { code: 'DELTA_TRUNCATED', message: 'patch ends inside an op payload', details: undefined }, 'a skipped op cut short')
})

t.test('a later, larger payload grows the one payload buffer', async (t) => {
  const small = Buffer.from('tiny')
  const large = randomBytes(5000, 63) // incompressible: a payload of about 5 kB
  const tgt = Buffer.concat([small, large])
  const p = await writePatch(source, tgt, [await replaceOp(0, small, 5), await replaceOp(4, large, 5)])
  const r = await run(p)
  t.equal(r.code, 'ok')
})

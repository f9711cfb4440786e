/**
 * The target hashed on a worker thread (client-sdk/src/delta/image-hasher.ts): the same
 * results, the same error for every damaged patch and the same progress records as the
 * hashing in the main thread, over a multi-MiB target whose op boundaries fall inside
 * chunks, on chunk boundaries and in the last partial chunk.
 */
import t from 'tap'
import { applyDeltaStream, DeltaError, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { createImageHasher, HASH_WORKER_MIN_BYTES, InlineHasher, WorkerHasher } from '../../client-sdk/src/delta/image-hasher.js'
import { IO_CHUNK } from '../../client-sdk/src/delta/streams.js'
import { bsdiffOp, copyOp, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { chunked, damage, hex, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

/** 3.3 MiB target from 4 MiB of source: COPY, BSDIFF, REPLACE and COPY again; the first op ends exactly at 1 MiB */
async function bigDelta() {
  const source = randomBytes(4 << 20, 99)
  const ops: EncodedOp[] = []
  const parts: Buffer[] = []
  let at = 0
  const copy = (from: number, len: number) => {
    const bytes = source.subarray(from, from + len)
    ops.push(copyOp(at, from, len, sha256(bytes)))
    parts.push(bytes)
    at += len
  }
  copy(2 << 20, IO_CHUNK)
  const old = source.subarray(100_000, 100_000 + 900_000)
  const changed = Buffer.from(old)
  for (let i = 0; i < changed.length; i += 501) changed[i] = changed[i]! ^ 0x33
  const diff = Buffer.alloc(changed.length)
  for (let i = 0; i < diff.length; i++) diff[i] = (changed[i]! - old[i]!) & 0xff
  const extra = randomBytes(70_000, 5)
  const out = Buffer.concat([changed, extra])
  ops.push(await bsdiffOp({ targetOffset: at, target: out, srcOffset: 100_000, srcLength: 900_000, control: [[changed.length, extra.length, 0]], diff, extra }, 5))
  parts.push(out)
  at += out.length
  const literal = randomBytes(600_000, 6)
  ops.push(await replaceOp(at, literal, 5))
  parts.push(literal)
  at += literal.length
  copy(3 << 20, 700_001)
  const target = Buffer.concat(parts)
  return { source, target, ops, patch: await writePatch(source, target, ops) }
}

const sample = await bigDelta()

type Outcome = { code: string; target?: string; records: DeltaProgress[] }

async function run(patch: Buffer, hashOnWorker: boolean, extra: Parameters<typeof applyDeltaStream>[1] = {}, chunk = 65_536): Promise<Outcome> {
  const sink = new MemSink()
  const records: DeltaProgress[] = []
  try {
    await applyDeltaStream(
      { source: memSource(sample.source), patch: chunked(patch, chunk), sink },
      { hashOnWorker, checkpointBytes: 1 << 20, onProgress: (p) => void records.push(p), ...extra },
    )
    return { code: 'ok', target: hex(sink.data), records }
  } catch (e) {
    return { code: e instanceof DeltaError ? `${e.code} ${JSON.stringify(e.details ?? {})}` : `not a DeltaError: ${String(e)}`, records }
  }
}

t.test('the default: a worker for targets of 32 MiB and more (with two or more cores), this thread below', async (t) => {
  const small = await createImageHasher(HASH_WORKER_MIN_BYTES - 1)
  t.type(small, InlineHasher)
  const big = await createImageHasher(HASH_WORKER_MIN_BYTES)
  t.teardown(() => big.close())
  const cores = (await import('node:os')).availableParallelism()
  t.type(big, cores > 1 ? WorkerHasher : InlineHasher, `${cores} cores`)
  const forced = await createImageHasher(10, true)
  t.type(forced, WorkerHasher, 'asked for: a worker whatever the size')
  await forced.close()
})

t.test('the same target, result and progress records on the worker as in this thread', async (t) => {
  const inline = await run(sample.patch, false)
  const worker = await run(sample.patch, true)
  t.equal(inline.code, 'ok')
  t.equal(inline.target, hex(sample.target))
  t.same(worker, inline)
  t.same(worker.records.map((r) => r.opsDone), [1, 3], 'a record after the first op (1 MiB), the next once 1 MiB more is written')
  t.equal(worker.records[0]!.prefixSha256, hex(sample.target.subarray(0, IO_CHUNK)), 'an op ending on a chunk boundary')
})

t.test('resume on the worker: the prefix is re-read into shared memory and hashed there', async (t) => {
  const full = await run(sample.patch, true)
  const record = full.records[1]!
  const sink = new MemSink()
  sink.data = Buffer.from(sample.target.subarray(0, record.targetOffset))
  const r = await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink }, { hashOnWorker: true, resume: record })
  t.equal(r.resumedOps, 3)
  t.ok(sink.data.equals(sample.target))
  sink.data = Buffer.from(sample.target.subarray(0, record.targetOffset))
  sink.data[7] = sink.data[7]! ^ 1
  await t.rejects(
    applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink }, { hashOnWorker: true, resume: record }),
    { code: 'DELTA_RESUME_MISMATCH' },
  )
})

t.test('a bad op found behind the decoding is still the error, and no progress record counts it', async (t) => {
  // op 1's recorded sha256 is wrong, and the patch is cut inside op 3: the hash failure comes first
  const forged = Buffer.from(sample.patch)
  const op1 = 128 + 80 + sample.ops[0]!.payload.length
  forged[op1 + 48] = forged[op1 + 48]! ^ 1
  const cut = forged.subarray(0, forged.length - 10)
  for (const hashOnWorker of [false, true]) {
    const r = await run(cut, hashOnWorker)
    t.equal(r.code, `DELTA_OP_HASH_MISMATCH ${JSON.stringify({ op: 1, targetOffset: IO_CHUNK })}`, `worker ${hashOnWorker}`)
    t.ok(r.records.every((p) => p.opsDone <= 1), 'no record past the bad op')
  }
  const truncated = await run(sample.patch.subarray(0, sample.patch.length - 10), true)
  t.match(truncated.code, /^DELTA_TRUNCATED/, 'with every op right, the cut is the error')
})

t.test('every damaged patch ends the same on the worker as in this thread', async (t) => {
  const differ: string[] = []
  const codes = new Map<string, number>()
  for (let i = 0; i < 60; i++) {
    const bad = damage(sample.patch, 1000 + i)
    const inline = await run(bad, false)
    const worker = await run(bad, true)
    if (JSON.stringify(inline) !== JSON.stringify(worker)) differ.push(`seed ${1000 + i}: ${inline.code} / ${worker.code}`)
    const c = inline.code.split(' ')[0]!
    codes.set(c, (codes.get(c) ?? 0) + 1)
  }
  t.same(differ, [])
  t.comment(JSON.stringify(Object.fromEntries(codes)))
  t.ok(codes.get('DELTA_OP_HASH_MISMATCH'), 'the damage reached op hashes')
  t.ok(codes.size >= 3, 'and other checks')
})

t.test('a worker that is gone fails the apply instead of hanging it', async (t) => {
  const hasher = await createImageHasher(10, true)
  const buf = hasher.alloc(16)
  await hasher.close()
  await t.rejects(hasher.hash(buf, 16, []), /hash worker closed/)
  t.throws(() => void hasher.hash(Buffer.alloc(16), 16, []), /hashes only buffers from alloc/)
})

t.test("verifySource 'alongside': hashed on the worker while the ops run; a wrong source is still DELTA_SOURCE_MISMATCH", async (t) => {
  const apply = async (src: Buffer, patch: Buffer, hashOnWorker: boolean) => {
    const sink = new MemSink()
    const err = await applyDeltaStream({ source: memSource(src), patch: chunked(patch, 65_536), sink }, { verifySource: 'alongside', hashOnWorker }).then(
      () => undefined,
      (e: unknown) => e,
    )
    return { code: err === undefined ? 'ok' : err instanceof DeltaError ? err.code : String(err), sink }
  }
  const right = await apply(sample.source, sample.patch, true)
  t.equal(right.code, 'ok')
  t.ok(right.sink.data.equals(sample.target))
  // byte 50 is read by no op: every op and the image check out, the source check alone fails
  const unread = Buffer.from(sample.source)
  unread[50] = unread[50]! ^ 1
  const quiet = await apply(unread, sample.patch, true)
  t.equal(quiet.code, 'DELTA_SOURCE_MISMATCH', 'a source byte no op reads')
  t.ok(quiet.sink.data.length > 0, 'found while the ops ran, after writes')
  // a byte the BSDIFF op reads: its hash fails too, and the source is named
  const read = Buffer.from(sample.source)
  read[100_001] = read[100_001]! ^ 1
  t.equal((await apply(read, sample.patch, true)).code, 'DELTA_SOURCE_MISMATCH', 'a source byte an op reads')
  const inline = await apply(unread, sample.patch, false)
  t.equal(inline.code, 'DELTA_SOURCE_MISMATCH')
  t.equal(inline.sink.writes, 0, 'no worker: checked before the target is written, as by default')
  t.equal((await apply(sample.source, sample.patch.subarray(0, sample.patch.length - 1), true)).code, 'DELTA_TRUNCATED', 'a right source: the patch is what is wrong')
})

t.test('a patch of many one-byte ops: a chunk carries at most MAX_CUTS op ends, so memory does not grow with them', async (t) => {
  const { MAX_CUTS } = await import('../../client-sdk/src/delta/streams.js')
  const source = randomBytes(5000, 12)
  const n = 2 * MAX_CUTS + 500
  const target = Buffer.alloc(n)
  const ops: EncodedOp[] = []
  for (let i = 0; i < n; i++) {
    const from = (i * 7) % source.length
    target[i] = source[from]!
    ops.push(copyOp(i, from, 1, sha256(source.subarray(from, from + 1))))
  }
  const patch = await writePatch(source, target, ops)
  for (const hashOnWorker of [false, true]) {
    const sink = new MemSink()
    const r = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 4096), sink }, { hashOnWorker })
    t.equal(r.ops, n)
    t.ok(sink.data.equals(target), `worker ${hashOnWorker}: rebuilt`)
    t.equal(sink.writes, 3, `worker ${hashOnWorker}: ${n} op ends went out in chunks of ${MAX_CUTS}, the last with the rest`)
  }
  const bad = Buffer.from(patch)
  const at = 128 + (n - 10) * 80 + 48 // op n-10's sha256: COPY ops have no payload
  bad[at] = bad[at]! ^ 1
  for (const hashOnWorker of [false, true]) {
    const err = await applyDeltaStream({ source: memSource(source), patch: chunked(bad, 4096), sink: new MemSink() }, { hashOnWorker }).catch((e: unknown) => e)
    t.match(err, { code: 'DELTA_OP_HASH_MISMATCH', details: { op: n - 10, targetOffset: n - 10 } }, `worker ${hashOnWorker}`)
  }
})

t.test('a worker that dies mid-apply fails what is pending and everything after, with its error', async (t) => {
  const thrown = (await createImageHasher(10, true)) as WorkerHasher
  const worker = (thrown as unknown as { worker: import('node:worker_threads').Worker }).worker
  const buf = thrown.alloc(16)
  t.throws(() => void thrown.hash(buf.subarray(1), 15, []), /hashes only buffers from alloc/, 'a view into a chunk is not the chunk')
  await thrown.hash(buf, 16, [])
  worker.postMessage({ t: 'hash', i: 99, len: 1, cuts: [] }) // no such buffer: the worker throws
  await t.rejects(thrown.prefix(), TypeError, 'the error the worker died of')
  await t.rejects(thrown.hash(buf, 16, []), TypeError, 'and every request after it')
  await thrown.close()

  const killed = (await createImageHasher(10, true)) as WorkerHasher
  const pending = killed.prefix()
  await (killed as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate()
  await t.rejects(pending, /hash worker exited \(1\)/, 'an exit without an error')
  await t.rejects(killed.digest(), /hash worker exited/)
  await killed.close()
})

t.test('one core: this thread, whatever the size (a worker would only add its start-up)', async (t) => {
  t.type(await createImageHasher(HASH_WORKER_MIN_BYTES * 4, undefined, 1), InlineHasher)
  const two = await createImageHasher(HASH_WORKER_MIN_BYTES, undefined, 2)
  t.type(two, WorkerHasher, 'two cores')
  await two.close()
  const forced = await createImageHasher(10, true, 1)
  t.type(forced, WorkerHasher, 'asked for: a worker still')
  await forced.close()
})

/**
 * Version 3's sparse diff streams (client-sdk/src/delta/sparse-diff.ts): the builder's
 * encoder byte by byte, the twin's expander, and the applier's reader against the dense
 * add, split anywhere (records across decoder pieces, control entries across records),
 * with each refusal alone; then damaged records inside a well-formed brotli stream, which
 * the patch-level fuzz mostly stops at brotli, must each fail with a known code.
 */
import { brotliCompressSync } from 'node:zlib'
import t from 'tap'
import { applyDeltaStream, DeltaError, encodeControl, OpType } from '../../client-sdk/src/delta/index.js'
import { BrotliReader } from '../../client-sdk/src/delta/brotli-reader.js'
import { ByteAdder } from '../../client-sdk/src/delta/byte-add.js'
import { encodeSparseDiff, expandSparseDiff, SparseDiff, sparseStreamLimit } from '../../client-sdk/src/delta/sparse-diff.js'
import { brotli, sha256 } from '../../server/delta/encode-op.js'
import { chunked, memSource, MemSink, randomBytes, writePatch, refusal } from './delta-fixtures.js'

const bytes = (...b: number[]) => Buffer.from(b)

/** a diff as an image's: long zero runs, short ones, lone changed bytes and dense stretches */
function imageLikeDiff(n: number, seed: number): Buffer {
  const r = randomBytes(n, seed)
  const d = Buffer.alloc(n)
  for (let i = 0; i < n; ) {
    const kind = r[i]! % 4
    const len = 1 + (r[(i * 7) % n]! % (kind === 0 ? 200 : 12))
    if (kind === 1) for (let k = i; k < Math.min(n, i + len); k++) d[k] = r[(k * 13) % n]! | 1
    if (kind === 2) d[i] = 1 + (r[i]! % 255)
    i += len
  }
  return d
}

t.test('the encoder: zero runs of at least minZeros are runs, shorter ones stay literal', async (t) => {
  const d = bytes(0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0)
  t.same([...encodeSparseDiff(d, 4)], [5, 5, 1, 2, 0, 0, 3, 6, 0], 'a run of 2 inside the literal; the last run ends the diff')
  t.same([...encodeSparseDiff(d, 1)], [5, 2, 1, 2, 2, 1, 3, 6, 0], 'every run cut')
  t.same([...encodeSparseDiff(d, 6)], [0, 10, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 6, 0], 'a short leading run is literal; a run that ends the diff is a run whatever its length')
  t.same([...encodeSparseDiff(bytes(1, 0, 0, 0, 0, 2), 4)], [0, 1, 1, 4, 1, 2], 'a run of exactly minZeros inside is cut')
  t.same([...encodeSparseDiff(bytes(1, 0, 0), 4)], [0, 1, 1, 2, 0], 'a short run after a literal that ends the diff is a run')
  t.same([...encodeSparseDiff(bytes(0, 1), 4)], [0, 2, 0, 1])
  t.same([...encodeSparseDiff(bytes(0, 0, 0), 4)], [3, 0], 'all zeros: one record')
  t.same([...encodeSparseDiff(bytes(7), 4)], [0, 1, 7])
  t.same([...encodeSparseDiff(Buffer.alloc(0), 4)], [], 'nothing: no record')
  t.same([...encodeSparseDiff(Buffer.alloc(300), 4)], [0xac, 0x02, 0], 'LEB128 counts')
  const literal = Buffer.alloc(200, 9)
  t.same([...encodeSparseDiff(literal, 4).subarray(0, 3)], [0, 0xc8, 0x01], 'a 200-byte literal')
})

t.test('expandSparseDiff(encodeSparseDiff(d)) is d, at every minZeros; the stream stays within its limit', async (t) => {
  for (const seed of [1, 2, 3]) {
    const d = imageLikeDiff(50_000 + seed * 999, seed)
    for (const min of [1, 2, 4, 16, 64, 1 << 20]) {
      const records = encodeSparseDiff(d, min)
      t.ok(expandSparseDiff(records, d.length).equals(d), `seed ${seed}, runs of ≥ ${min}`)
      t.ok(records.length <= sparseStreamLimit(d.length), 'within the decoder cap')
    }
  }
  const worst = Buffer.alloc(1000)
  for (let i = 0; i < worst.length; i += 2) worst[i] = 1 // alternating: a record per byte at minZeros 1
  t.ok(encodeSparseDiff(worst, 1).length <= sparseStreamLimit(worst.length), 'the densest records still fit the cap')
})

t.test('expandSparseDiff refusals', async (t) => {
  const corrupt = (records: Buffer, limit: number, message: string) =>
    t.match(refusal(() => expandSparseDiff(records, limit)), { code: 'DELTA_CORRUPT', message }, message)
  corrupt(bytes(3), 10, 'diff record is truncated')
  corrupt(bytes(0x80), 10, 'diff record is truncated')
  corrupt(bytes(0, 0), 10, 'empty diff record')
  corrupt(bytes(0, 3, 1, 2), 10, 'diff literal is truncated')
  corrupt(bytes(5, 1, 9, 5, 0), 10, 'diff stream holds more bytes than the op')
  t.same([...expandSparseDiff(bytes(5, 1, 9, 4, 0), 10)], [0, 0, 0, 0, 0, 9, 0, 0, 0, 0], 'exactly the limit')
})

/** the reader fed from a real brotli stream, with decoder pieces of `piece` bytes */
function reader(records: Buffer, piece: number, diffBytes: number) {
  const adder = new ByteAdder(1 << 20, piece)
  const src = new BrotliReader(adder.piece)
  src.begin(brotliCompressSync(records), sparseStreamLimit(diffBytes), 'diff')
  const sparse = new SparseDiff(src, adder)
  sparse.begin()
  return { sparse, adder }
}

t.test('SparseDiff adds what the dense diff adds, however the output and the decoded stream are cut', async (t) => {
  const d = imageLikeDiff(40_000, 9)
  const old = randomBytes(d.length, 10)
  const want = Buffer.from(old)
  for (let i = 0; i < d.length; i++) want[i] = (want[i]! + d[i]!) & 0xff
  for (const [min, piece, cut] of [[4, 256 * 1024, 4096], [1, 7, 33], [16, 1, 1], [4, 3, 40_000]] as const) {
    const { sparse, adder } = reader(encodeSparseDiff(d, min), piece, d.length)
    const out = Buffer.from(old)
    for (let at = 0, k = 0; at < out.length; k++) {
      const n = Math.min(out.length - at, 1 + ((cut * (k + 3)) % (cut * 2)))
      // the applier adds into its scratch buffer (wasm memory): do the same
      const dst = adder.scratch.subarray(0, n)
      out.copy(dst, 0, at, at + n)
      sparse.addTo(dst)
      dst.copy(out, at)
      at += n
    }
    sparse.expectEnd()
    t.ok(out.equals(want), `runs ≥ ${min}, pieces of ${piece}, output cut near ${cut}`)
  }
})

t.test('SparseDiff refusals, each alone', async (t) => {
  const run = (records: Buffer, asked: number, end = true) => () => {
    const { sparse, adder } = reader(records, 5, 64)
    sparse.addTo(adder.scratch.subarray(0, asked))
    if (end) sparse.expectEnd()
  }
  const corrupt = (f: () => void, message: string, what: string) => t.match(refusal(f), { code: 'DELTA_CORRUPT', message }, what)
  t.same(refusal(run(bytes(2, 2, 1, 1), 4)), { code: 'no error' }, 'a well-formed stream')
  corrupt(run(bytes(0, 5, 1, 2), 5), 'diff stream ends inside a literal', 'a literal cut short')
  corrupt(run(bytes(0, 0, 3, 0), 3), 'empty diff record', 'a record of nothing')
  corrupt(run(bytes(3, 0), 5), 'diff stream ends before its control says', 'fewer diff bytes than the control asks')
  corrupt(run(bytes(5, 0), 3), 'diff stream has trailing bytes', 'a run longer than what is asked')
  corrupt(run(bytes(0, 3, 1, 2, 3), 2), 'diff stream has trailing bytes', 'a literal longer than what is asked')
  corrupt(run(bytes(2, 0, 1, 0), 2), 'diff stream has trailing bytes', 'a whole record more')
  corrupt(run(bytes(2, 0x80), 4), 'diff stream ends before its control says', 'cut inside a varint')
  corrupt(run(bytes(1), 4), 'diff stream ends before its control says', 'cut after a record\'s zero count, before its literal count')
  corrupt(run(bytes(0, 5, 1, 2, 3), 3), 'diff stream has trailing bytes', 'a last record that promises more literal bytes than the stream holds')
  t.match(refusal(run(bytes(5, 0), 3)), { details: { stream: 'diff' } }, 'a refusal names the diff stream')
  corrupt(run(Buffer.from([...Array(10).fill(0x80), 0]), 4), 'diff record varint too long', 'an eleven-byte varint')
  corrupt(run(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0), 4), 'diff record value out of range', '2^53 zeros')
  t.match(refusal(run(bytes(2, 0), 2, false)), { code: 'no error' }, 'the stream is only judged whole at expectEnd')
})

/** One BSDIFF op whose diff stream is the given (already sparse) records, in a version-3 patch. */
async function v3Patch(source: Buffer, target: Buffer, records: Buffer, version = 3) {
  const control = encodeControl([[target.length, 0, 0]])
  const [c, d, e] = await Promise.all([brotli(control, 11), brotli(records, 9), brotli(Buffer.alloc(0), 9)])
  const op = {
    type: OpType.BSDIFF,
    payloadLength: c.length + d.length + e.length,
    targetOffset: 0,
    targetLength: target.length,
    srcOffset: 0,
    srcLength: source.length,
    ctrlLength: c.length,
    diffLength: d.length,
    sha256: sha256(target),
  }
  return writePatch(source, target, [{ op, payload: Buffer.concat([c, d, e]) }], undefined, version)
}

async function apply(source: Buffer, patch: Buffer) {
  const sink = new MemSink()
  try {
    await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 1000), sink })
    return { code: 'ok', data: sink.data }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : `unexpected ${String(e)}`, data: sink.data }
  }
}

t.test('a version-3 patch: the header version says how its diff streams are read', async (t) => {
  const source = randomBytes(30_000, 21)
  const d = imageLikeDiff(source.length, 22)
  const target = Buffer.from(source)
  for (let i = 0; i < d.length; i++) target[i] = (target[i]! + d[i]!) & 0xff
  const records = encodeSparseDiff(d, 4)
  const ok = await apply(source, await v3Patch(source, target, records))
  t.equal(ok.code, 'ok')
  t.ok(ok.data.equals(target), 'rebuilt')
  const asV1 = await apply(source, await v3Patch(source, target, records, 1))
  t.not(asV1.code, 'ok', 'the same records read as a dense diff (a version-1 header) do not rebuild it')
  const bloat = await apply(source, await v3Patch(source, target, Buffer.concat([records.subarray(0, -2), Buffer.alloc(3 * target.length + 100, 0x80)])))
  t.equal(bloat.code, 'DELTA_CORRUPT', 'a stream decoding past 3 bytes per diff byte is refused')
})

t.test('damaged records in a well-formed stream fail with a known code or rebuild the exact target', async (t) => {
  const source = randomBytes(20_000, 31)
  const d = imageLikeDiff(source.length, 32)
  const target = Buffer.from(source)
  for (let i = 0; i < d.length; i++) target[i] = (target[i]! + d[i]!) & 0xff
  const records = encodeSparseDiff(d, 4)
  let x = 20261204
  const r = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), Math.floor((x / 2 ** 32) * n))
  const seen = new Map<string, number>()
  for (let i = 0; i < 150; i++) {
    const bad = Buffer.from(records)
    const kind = r(3)
    let damaged = bad
    if (kind === 0) for (let k = 1 + r(3); k > 0; k--) bad[r(bad.length)] = r(256)
    else if (kind === 1) damaged = bad.subarray(0, r(bad.length))
    else {
      const at = r(bad.length)
      damaged = Buffer.concat([bad.subarray(0, at), bytes(r(256), r(256)), bad.subarray(at)])
    }
    const got = await apply(source, await v3Patch(source, target, damaged))
    if (got.code === 'ok') t.ok(got.data.equals(target), `iteration ${i}: success only with the exact target`)
    else t.ok(['DELTA_CORRUPT', 'DELTA_OP_HASH_MISMATCH'].includes(got.code), `iteration ${i}: ${got.code}`)
    seen.set(got.code, (seen.get(got.code) ?? 0) + 1)
  }
  t.comment(JSON.stringify(Object.fromEntries(seen)))
  t.ok(seen.get('DELTA_CORRUPT'), 'the record parser refused some')
  t.ok(seen.get('DELTA_OP_HASH_MISMATCH'), 'and the op hash caught changed literal bytes')
})

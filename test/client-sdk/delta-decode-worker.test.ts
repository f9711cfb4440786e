/**
 * Whole REPLACE and TRANSPOSED ops decoded on a worker thread while this thread decodes
 * the next (client-sdk/src/delta/decode-worker.ts), and slabs put back in order by the
 * WebAssembly loop (transpose.ts, Untransposer): the same bytes, the same error code for
 * every damaged patch, progress records that resume, and a worker that fails loudly.
 */
import t from 'tap'
import { constants } from 'node:zlib'
import { applyDeltaStream, DeltaError, OpType, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { DecodeWorker, DECODE_WORKER_MIN_BYTES, WORKER_MIN_OP_BYTES, WORKER_OP_BYTES } from '../../client-sdk/src/delta/decode-worker.js'
import { encodeTransposeDescriptor, SLAB, transpose, Untransposer, untransposeSlab } from '../../client-sdk/src/delta/transpose.js'
import { brotli, bsdiffOp, copyOp, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { chunked, hex, memSource, MemSink, quantRows, randomBytes, writePatch } from './delta-fixtures.js'

async function transposedOp(targetOffset: number, body: Buffer, stride: number): Promise<EncodedOp> {
  const payload = Buffer.concat([encodeTransposeDescriptor(stride), await brotli(transpose(body, stride), 5)])
  const op = { type: OpType.TRANSPOSED, payloadLength: payload.length, targetOffset, targetLength: body.length, srcOffset: 0, srcLength: 0, ctrlLength: 0, diffLength: 0, sha256: sha256(body) }
  return { op, payload }
}

/**
 * ~9 MiB of target: whole ops in pairs and alone, one too small for the worker, a
 * BSDIFF op after a whole one (it waits for it) and a whole op last (no next to pair).
 */
async function wholeDelta() {
  const source = randomBytes(2 << 20, 71)
  const ops: EncodedOp[] = []
  const parts: Buffer[] = []
  let at = 0
  const add = async (make: (at: number) => Promise<EncodedOp>, bytes: Buffer) => {
    ops.push(await make(at))
    parts.push(bytes)
    at += bytes.length
  }
  const copied = source.subarray(0, 300_000)
  await add(async (a) => copyOp(a, 0, copied.length, sha256(copied)), copied)
  const rows1 = quantRows(Math.floor(SLAB / 18) + 5000, 72) // two slabs, the second short
  await add((a) => transposedOp(a, rows1, 18), rows1)
  const rows2 = quantRows(Math.floor((WORKER_OP_BYTES - 1000) / 18), 73)
  await add((a) => transposedOp(a, rows2, 18), rows2)
  const literal = randomBytes(600_001, 74)
  await add((a) => replaceOp(a, literal, 5), literal)
  const old = source.subarray(500_000, 900_000)
  const changed = Buffer.from(old)
  for (let i = 0; i < changed.length; i += 333) changed[i] = changed[i]! ^ 0x21
  const diff = Buffer.alloc(changed.length)
  for (let i = 0; i < diff.length; i++) diff[i] = (changed[i]! - old[i]!) & 0xff
  await add((a) => bsdiffOp({ targetOffset: a, target: changed, srcOffset: 500_000, srcLength: old.length, control: [[changed.length, 0, 0]], diff, extra: Buffer.alloc(0) }, 5, true), changed)
  const small = randomBytes(WORKER_MIN_OP_BYTES - 1, 75)
  await add((a) => replaceOp(a, small, 5), small)
  const rows3 = quantRows(70_001, 76) // stride 18 leaves a tail in its last slab
  await add((a) => transposedOp(a, rows3, 18), rows3)
  const rows4 = Buffer.concat([quantRows(30_000, 77), Buffer.from('tail!')])
  await add((a) => transposedOp(a, rows4, 7), rows4)
  const target = Buffer.concat(parts)
  return { source, target, ops, patch: await writePatch(source, target, ops, undefined, 3) }
}

const sample = await wholeDelta()

type Outcome = { code: string; target?: string; records: DeltaProgress[] }

async function run(patch: Buffer, decodeOnWorker: boolean, extra: Parameters<typeof applyDeltaStream>[1] = {}): Promise<Outcome> {
  const sink = new MemSink()
  const records: DeltaProgress[] = []
  try {
    await applyDeltaStream(
      { source: memSource(sample.source), patch: chunked(patch, 65_536), sink },
      { decodeOnWorker, checkpointBytes: 1 << 20, onProgress: (p) => void records.push(p), ...extra },
    )
    return { code: 'ok', target: hex(sink.data), records }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : `not a DeltaError: ${String(e)}`, records }
  }
}

t.test('Untransposer: the WebAssembly loop gives the bytes untransposeSlab gives, at any stride and length', async (t) => {
  const u = new Untransposer()
  t.equal(u.columns.buffer instanceof ArrayBuffer && !(u.columns.buffer instanceof SharedArrayBuffer), true)
  for (const stride of [2, 3, 4, 7, 18, 34, 292, 4095, 4096]) {
    for (const len of [SLAB, SLAB - 1, 100_003, 4 * stride, 4 * stride + 3, stride - 1, 1, 0]) {
      const cols = randomBytes(len, stride * 31 + len)
      const want = Buffer.alloc(len)
      untransposeSlab(cols, stride, want)
      cols.copy(u.columns)
      const got = u.run(len, stride)
      if (!got.equals(want)) t.fail(`stride ${stride}, ${len} bytes`)
    }
  }
  t.pass('every stride and length')
  // without WebAssembly: the JS loop, the same bytes
  const wasm = globalThis.WebAssembly
  ;(globalThis as { WebAssembly?: unknown }).WebAssembly = undefined
  let plain: Untransposer
  try {
    plain = new Untransposer()
  } finally {
    globalThis.WebAssembly = wasm
  }
  const cols = randomBytes(SLAB, 5)
  cols.copy(plain.columns)
  const want = Buffer.alloc(SLAB)
  untransposeSlab(cols, 18, want)
  t.ok(plain.run(SLAB, 18).equals(want), 'no WebAssembly: the plain loop')
})

t.test('the default: a worker for targets of 32 MiB and more with two or more cores; asked for, always', async (t) => {
  t.equal(DecodeWorker.wanted(DECODE_WORKER_MIN_BYTES, undefined, 2), true)
  t.equal(DecodeWorker.wanted(DECODE_WORKER_MIN_BYTES - 1, undefined, 2), false)
  t.equal(DecodeWorker.wanted(DECODE_WORKER_MIN_BYTES * 8, undefined, 1), false, 'one core: a worker only adds its start-up')
  t.equal(DecodeWorker.wanted(10, true, 1), true)
  t.equal(DecodeWorker.wanted(DECODE_WORKER_MIN_BYTES * 8, false, 4), false)
  t.equal(DecodeWorker.takes(WORKER_MIN_OP_BYTES - 1, 10), false, 'an op too small to pay for the round trip')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES + 1, 10), false, 'an op larger than its buffers')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES, WORKER_OP_BYTES * 2), false, 'a payload larger than its buffer')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES, WORKER_OP_BYTES), true)
})

t.test('the same target on the worker as in this thread; its progress records resume', async (t) => {
  const inline = await run(sample.patch, false)
  const worker = await run(sample.patch, true)
  t.equal(inline.code, 'ok')
  t.equal(inline.target, hex(sample.target))
  t.equal(worker.code, 'ok')
  t.equal(worker.target, hex(sample.target))
  t.ok(worker.records.length >= 2, `${worker.records.length} records`)
  // a record falls between pairs, never inside one: each resumes to the same target
  for (const record of worker.records) {
    const sink = new MemSink()
    sink.data = Buffer.from(sample.target.subarray(0, record.targetOffset))
    const r = await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink }, { decodeOnWorker: true, resume: record })
    t.equal(r.resumedOps, record.opsDone)
    t.ok(sink.data.equals(sample.target), `resumed after op ${record.opsDone - 1}`)
  }
  // verified patch (the agent's way): the op hashes are skipped, the image hash checks it all
  const verified = await run(sample.patch, true, { expectedPatchSha256: sha256(sample.patch).toString('hex'), verifySource: false })
  t.equal(verified.target, hex(sample.target))
})

/** a seeded bit flip, byte change, cut or splice inside the ops */
function damage(patch: Buffer, seed: number): Buffer {
  let x = seed
  const r = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), Math.floor((x / 2 ** 32) * n))
  const p = Buffer.from(patch)
  switch (r(3)) {
    case 0:
      for (let k = 1 + r(3); k > 0; k--) {
        const i = 128 + r(p.length - 128)
        p[i] = p[i]! ^ (1 << r(8))
      }
      return p
    case 1:
      return p.subarray(0, 128 + r(p.length - 128))
    default: {
      const at = 128 + r(p.length - 128)
      return Buffer.concat([p.subarray(0, at), p.subarray(at + 1 + r(64))])
    }
  }
}

t.test('every damaged patch ends with the same code on the worker as in this thread', async (t) => {
  const differ: string[] = []
  const codes = new Map<string, number>()
  for (let i = 0; i < 40; i++) {
    const bad = damage(sample.patch, 500 + i)
    const inline = await run(bad, false)
    const worker = await run(bad, true)
    if (inline.code !== worker.code) differ.push(`seed ${500 + i}: ${inline.code} / ${worker.code}`)
    codes.set(inline.code, (codes.get(inline.code) ?? 0) + 1)
  }
  t.same(differ, [])
  t.comment(JSON.stringify(Object.fromEntries(codes)))
  t.notOk(codes.has('ok'), 'no damaged patch applies')
  t.ok(codes.size >= 3, 'the damage reached several checks')
})

t.test("a whole op's stream, wrong in each way, is DELTA_CORRUPT on the worker and here", async (t) => {
  const body = randomBytes(WORKER_MIN_OP_BYTES + 1000, 81)
  const stream = await brotli(body, 5)
  const forge = async (payload: Buffer, targetLength = body.length) => {
    const op = { type: OpType.REPLACE, payloadLength: payload.length, targetOffset: 0, targetLength, srcOffset: 0, srcLength: 0, ctrlLength: 0, diffLength: 0, sha256: sha256(body) }
    const target = Buffer.alloc(targetLength)
    return writePatch(Buffer.alloc(0), target, [{ op, payload }], sha256(target), 3)
  }
  const longer = await brotli(Buffer.concat([body, Buffer.from('x')]), 5)
  const cases: Array<[string, Buffer, number?]> = [
    ['bad brotli data', Buffer.concat([stream.subarray(0, 100), Buffer.alloc(200, 0xff)])],
    ['a stream that decodes to more than the op', longer],
    ['a stream that decodes to less', await brotli(body.subarray(1), 5)],
    ['bytes after the end of the stream', Buffer.concat([stream, Buffer.from([0])])],
    ['a stream cut short', stream.subarray(0, stream.length - 1)],
    ['an empty stream', Buffer.alloc(0)],
  ]
  for (const [what, payload] of cases) {
    const patch = await forge(payload)
    for (const decodeOnWorker of [false, true]) {
      const err = await applyDeltaStream({ source: memSource(Buffer.alloc(0)), patch: chunked(patch, 65_536), sink: new MemSink() }, { decodeOnWorker }).catch((e: unknown) => e)
      t.match(err, { code: 'DELTA_CORRUPT' }, `${what}, worker ${decodeOnWorker}`)
    }
  }
  // a stream that declares a window past 4 MiB is refused before the worker sees it
  const wide = await new Promise<Buffer>((resolve, reject) =>
    import('node:zlib').then((z) =>
      z.brotliCompress(body, { params: { [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_QUALITY]: 1 } }, (e, r) => (e ? reject(e) : resolve(r))),
    ),
  )
  for (const decodeOnWorker of [false, true]) {
    const err = await applyDeltaStream({ source: memSource(Buffer.alloc(0)), patch: chunked(await forge(wide), 65_536), sink: new MemSink() }, { decodeOnWorker }).catch((e: unknown) => e)
    t.match(err, { code: 'DELTA_SIZE_LIMIT', details: { windowBits: 24 } }, `a 16 MiB window, worker ${decodeOnWorker}`)
  }
})

t.test('the worker: one op at a time, only ops that fit, and one that dies fails what is pending and every call after', async (t) => {
  const w = (await DecodeWorker.start())!
  t.ok(w, 'started')
  const body = randomBytes(WORKER_MIN_OP_BYTES + 10, 91)
  const op = { stride: 0, targetLength: body.length, stream: await brotli(body, 5), what: 'replace' }
  const first = w.decode(op)
  t.equal(w.busy, true)
  await t.rejects(w.decode(op), /one op at a time/)
  t.ok((await first).equals(body), 'decoded')
  t.equal(w.busy, false)
  await t.rejects(w.decode({ ...op, targetLength: WORKER_OP_BYTES + 1 }), RangeError)
  await t.rejects(w.decode({ ...op, targetLength: body.length - 1 }), { code: 'DELTA_CORRUPT', message: 'replace stream decodes to more than the op allows' })
  t.ok((await w.decode(op)).equals(body), 'a failed op leaves the worker usable')
  const pending = w.decode(op)
  await (w as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate()
  await t.rejects(pending, /decode worker exited \(1\)/)
  await t.rejects(w.decode(op), /decode worker exited/)
  await w.close()

  const closed = (await DecodeWorker.start())!
  await closed.close()
  await t.rejects(closed.decode(op), /decode worker closed/)
})

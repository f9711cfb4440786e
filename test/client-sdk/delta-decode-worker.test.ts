/**
 * Whole REPLACE and TRANSPOSED ops decoded on a worker thread while this thread decodes
 * the next (client-sdk/src/delta/decode-worker.ts), and slabs put back in order by the
 * WebAssembly loop (transpose.ts, Untransposer): the same bytes, the same error code for
 * every damaged patch, progress records that resume, and a worker that fails loudly.
 */
import t from 'tap'
import { constants } from 'node:zlib'
import { applyDeltaStream, DeltaError, OpType, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { DecodeWorker, DECODE_WORKER_AFTER_BYTES, WORKER_MIN_OP_BYTES, WORKER_OP_BYTES } from '../../client-sdk/src/delta/decode-worker.js'
import { createImageHasher, type WorkerHasher } from '../../client-sdk/src/delta/image-hasher.js'
import { encodeTransposeDescriptor, SLAB, transpose, UNTRANSPOSE_PIECE, Untransposer, untransposeSlab } from '../../client-sdk/src/delta/transpose.js'
import { brotli, bsdiffOp, copyOp, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { chunked, damage, hex, memSource, MemSink, quantRows, randomBytes, writePatch } from './delta-fixtures.js'

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

type Outcome = { code: string; target?: string; records: DeltaProgress[]; workerOps?: number }

/** where ops are decoded: this thread alone, a decode thread of its own, or the hash worker's thread */
const WAYS = { here: { decodeOnWorker: false }, own: { decodeOnWorker: true, hashOnWorker: false }, shared: { decodeOnWorker: true, hashOnWorker: true } } as const

async function run(patch: Buffer, way: keyof typeof WAYS, extra: Parameters<typeof applyDeltaStream>[1] = {}): Promise<Outcome> {
  const sink = new MemSink()
  const records: DeltaProgress[] = []
  try {
    const r = await applyDeltaStream(
      { source: memSource(sample.source), patch: chunked(patch, 65_536), sink },
      { ...WAYS[way], checkpointBytes: 1 << 20, onProgress: (p) => void records.push(p), ...extra },
    )
    return { code: 'ok', target: hex(sink.data), records, workerOps: r.workerOps }
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
      // each piece is valid until the next: copy them as the applier's writer does
      const pieces: Buffer[] = []
      for (const p of u.pieces(len, stride)) pieces.push(Buffer.from(p))
      if (!Buffer.concat(pieces).equals(want)) t.fail(`stride ${stride}, ${len} bytes`)
      if (pieces.some((p) => p.length > UNTRANSPOSE_PIECE)) t.fail(`stride ${stride}, ${len} bytes: a piece over ${UNTRANSPOSE_PIECE}`)
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
  t.ok(Buffer.concat([...plain.pieces(SLAB, 18)]).equals(want), 'no WebAssembly: the plain loop')
})

t.test('which ops the worker takes: 256 KiB to 4 MiB, with a payload that fits', async (t) => {
  t.equal(DecodeWorker.takes(WORKER_MIN_OP_BYTES - 1, 10), false, 'an op too small to pay for the round trip')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES + 1, 10), false, 'an op larger than its buffers')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES, WORKER_OP_BYTES * 2), false, 'a payload larger than its buffer')
  t.equal(DecodeWorker.takes(WORKER_OP_BYTES, WORKER_OP_BYTES), true)
  t.equal(DecodeWorker.takes(WORKER_MIN_OP_BYTES, 1), true)
})

t.test('the default: on the hash worker, once 32 MiB of whole ops have come; never without a hash worker unless asked; asked for, from the first', async (t) => {
  // 10 REPLACE ops of 4 MiB (40 MiB): the 9th is the first past 32 MiB
  const unit = Buffer.alloc(WORKER_OP_BYTES)
  for (let i = 0; i < unit.length; i += 4096) unit.writeUInt32LE(i, i)
  const ops: EncodedOp[] = []
  for (let i = 0; i < 10; i++) ops.push(await replaceOp(i * unit.length, unit, 1))
  const target = Buffer.concat(Array.from({ length: 10 }, () => unit))
  const patch = await writePatch(Buffer.alloc(0), target, ops, undefined, 3)
  // the 9th op is the first past 32 MiB: it goes to the worker, the 10th is decoded here
  const cases: Array<[Parameters<typeof applyDeltaStream>[1], number]> = [
    [{ hashOnWorker: true }, 1],
    [{ hashOnWorker: false }, 0],
    [{ hashOnWorker: true, decodeOnWorker: false }, 0],
    [{ hashOnWorker: false, decodeOnWorker: true }, 5],
    [{ hashOnWorker: true, decodeOnWorker: true }, 5],
  ]
  for (const [opts, want] of cases) {
    const sink = new MemSink()
    const r = await applyDeltaStream({ source: memSource(Buffer.alloc(0)), patch: chunked(patch, 1 << 20), sink }, opts)
    t.ok(sink.data.equals(target), `${JSON.stringify(opts)}: rebuilt`)
    t.equal(r.workerOps, want, `${JSON.stringify(opts)}: ${want} ops on the worker`)
  }
  t.equal(DECODE_WORKER_AFTER_BYTES, 32 << 20)
})

t.test('the same target on the worker as in this thread; its progress records resume', async (t) => {
  const inline = await run(sample.patch, 'here')
  t.equal(inline.code, 'ok')
  t.equal(inline.workerOps, 0, 'here: none on a worker')
  t.equal(inline.target, hex(sample.target))
  for (const way of ['own', 'shared'] as const) {
    const worker = await run(sample.patch, way)
    t.equal(worker.code, 'ok', way)
    // ops 1, 3 and 6 go to the worker (2, 4 and 7 are their second ops; 5 is too small)
    t.equal(worker.workerOps, 3, `${way}: the worker decoded its ops`)
    t.equal(worker.target, hex(sample.target), `${way}: the same target`)
    t.ok(worker.records.length >= 2, `${way}: ${worker.records.length} records`)
    // a record falls between pairs, never inside one: each resumes to the same target
    for (const record of worker.records) {
      const sink = new MemSink()
      sink.data = Buffer.from(sample.target.subarray(0, record.targetOffset))
      const r = await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink }, { ...WAYS[way], resume: record })
      t.equal(r.resumedOps, record.opsDone)
      t.ok(sink.data.equals(sample.target), `${way}: resumed after op ${record.opsDone - 1}`)
    }
    // verified patch (the agent's way): the op hashes are skipped, the image hash checks it all
    const verified = await run(sample.patch, way, { expectedPatchSha256: sha256(sample.patch).toString('hex'), verifySource: false })
    t.equal(verified.target, hex(sample.target), `${way}: a verified patch`)
  }
})

t.test('every damaged patch ends with the same code on the worker as in this thread', async (t) => {
  const differ: string[] = []
  const codes = new Map<string, number>()
  for (let i = 0; i < 40; i++) {
    const bad = damage(sample.patch, 500 + i)
    const inline = await run(bad, 'here')
    const own = await run(bad, 'own')
    const shared = await run(bad, 'shared')
    if (inline.code !== own.code || inline.code !== shared.code) differ.push(`seed ${500 + i}: ${inline.code} / ${own.code} / ${shared.code}`)
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
    for (const way of Object.keys(WAYS) as Array<keyof typeof WAYS>) {
      const err = await applyDeltaStream({ source: memSource(Buffer.alloc(0)), patch: chunked(patch, 65_536), sink: new MemSink() }, WAYS[way]).catch((e: unknown) => e)
      t.match(err, { code: 'DELTA_CORRUPT' }, `${what}, ${way}`)
    }
  }
  // a stream that declares a window past 4 MiB is refused before the worker sees it
  const wide = await new Promise<Buffer>((resolve, reject) =>
    import('node:zlib').then((z) =>
      z.brotliCompress(body, { params: { [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_QUALITY]: 1 } }, (e, r) => (e ? reject(e) : resolve(r))),
    ),
  )
  for (const way of Object.keys(WAYS) as Array<keyof typeof WAYS>) {
    const err = await applyDeltaStream({ source: memSource(Buffer.alloc(0)), patch: chunked(await forge(wide), 65_536), sink: new MemSink() }, WAYS[way]).catch((e: unknown) => e)
    t.match(err, { code: 'DELTA_SIZE_LIMIT', details: { windowBits: 24 } }, `a 16 MiB window, ${way}`)
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
  await t.rejects(w.decode({ ...op, targetLength: body.length - 1 }), { code: 'DELTA_CORRUPT', message: 'replace stream decodes to more than the op allows', details: { stream: 'replace' } })
  t.ok((await w.decode(op)).equals(body), 'a failed op leaves the worker usable')
  await w.close()
  await t.rejects(w.decode(op), /decode worker closed/, 'closed: every call after fails')

  // a thread that never answers, then ends: what is pending fails, and every call after
  const { Worker } = await import('node:worker_threads')
  const silent = new Worker(`require('node:worker_threads').parentPort.on('message', () => {})`, { eval: true })
  await new Promise((resolve) => silent.once('online', resolve))
  const dead = DecodeWorker.on(silent)
  const pending = dead.decode(op)
  await silent.terminate()
  await t.rejects(pending, /decode worker exited \(1\)/)
  await t.rejects(dead.decode(op), /decode worker exited/)
  await dead.close()

})

t.test("on the hash worker's thread: hashing and decoding answer each their own, and closing the decoder leaves the hasher running", async (t) => {
  const hasher = (await createImageHasher(10, true)) as WorkerHasher
  t.teardown(() => hasher.close())
  const events = ['message', 'error', 'exit'] as const
  const listeners = () => events.map((e) => hasher.thread.listenerCount(e))
  const before = listeners()
  const decoder = DecodeWorker.on(hasher.thread)
  t.same(listeners(), before.map((n) => n + 1), 'the decoder listens on the thread beside the hasher')
  const body = randomBytes(WORKER_MIN_OP_BYTES + 3, 95)
  const op = { stride: 0, targetLength: body.length, stream: await brotli(body, 5), what: 'replace' }
  const chunk = hasher.alloc(1000)
  randomBytes(1000, 96).copy(chunk)
  // a hash request, a decode and another hash request in flight at once
  const [, decoded] = await Promise.all([hasher.hash(chunk, 1000, []), decoder.decode(op), hasher.hash(chunk, 500, [])])
  t.ok(decoded.equals(body), 'decoded')
  await decoder.close()
  t.same(listeners(), before, 'and stops listening when closed')
  await t.rejects(decoder.decode(op), /decode worker closed/)
  await hasher.hash(chunk, 10, []) // the thread is still the hasher's
  const image = Buffer.concat([chunk, chunk.subarray(0, 500), chunk.subarray(0, 10)])
  t.equal((await hasher.digest()).toString('hex'), sha256(image).toString('hex'), 'the image hash is the three chunks, in order')
  t.equal(hasher.failed, undefined)
})

t.test('a worker op that is the last op is written alone; a second op cut short is named by its own index', async (t) => {
  const source = randomBytes(4096, 61)
  const literal = randomBytes(WORKER_MIN_OP_BYTES + 100, 62)
  const target = Buffer.concat([source.subarray(0, 1000), literal])
  const patch = await writePatch(source, target, [copyOp(0, 0, 1000, sha256(source.subarray(0, 1000))), await replaceOp(1000, literal, 5)], undefined, 3)
  for (const way of ['own', 'shared'] as const) {
    const sink = new MemSink()
    const r = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 65_536), sink }, WAYS[way])
    t.ok(sink.data.equals(target), `${way}: rebuilt`)
    t.equal(r.workerOps, 1, `${way}: the last op on the worker, with no next op to pair`)
  }
  // the sample's ops 1 and 2 pair up (op 1 on the worker): cut inside op 2's payload
  const op2End = 128 + sample.ops.slice(0, 3).reduce((n, o) => n + 80 + o.payload.length, 0)
  const cut = sample.patch.subarray(0, op2End - 10)
  for (const way of Object.keys(WAYS) as Array<keyof typeof WAYS>) {
    const err = await applyDeltaStream({ source: memSource(sample.source), patch: chunked(cut, 65_536), sink: new MemSink() }, WAYS[way]).catch((e: unknown) => e)
    t.match(err, { code: 'DELTA_TRUNCATED', details: { op: 2 } }, `${way}: op 2 named`)
  }
})

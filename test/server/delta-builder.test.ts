import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { applyDelta } from '../../client-sdk/src/delta/index.js'
import { buildBudget } from '../../server/delta/budget.js'
import { makeDelta } from '../../server/delta/index.js'
import { randomBytes } from '../client-sdk/delta-fixtures.js'

const MiB = 1 << 20

/** Text-like bytes (compressible, structured, like code or config): what bsdiff shines on. */
function textLike(n: number, seed: number): Buffer {
  const words = ['load', 'store', 'mov', 'call', 'ret', 'jmp', 'push', 'pop', 'add', 'xor', 'cmp', 'lea']
  const r = randomBytes(n, seed)
  const parts: string[] = []
  let len = 0
  for (let i = 0; len < n; i++) {
    const w = `${words[r[i % n]! % words.length]} r${r[(i * 7) % n]! % 16}, 0x${r[(i * 13) % n]!.toString(16)}\n`
    parts.push(w)
    len += w.length
  }
  return Buffer.from(parts.join('')).subarray(0, n)
}

async function roundTrip(t: Test, source: Buffer, target: Buffer, opts = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'old'), source)
  await writeFile(join(dir, 'new'), target)
  const r = await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'patch'), opts)
  const applied = await applyDelta(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), { expectedTargetSha256: r.targetSha256 })
  t.ok((await readFile(join(dir, 'out'))).equals(target), 'the device-side applier rebuilds the target exactly')
  t.equal(applied.targetSha256, r.targetSha256)
  const patch = await readFile(join(dir, 'patch'))
  t.equal(patch.length, r.size, 'reported size is the patch size')
  t.equal(patch.readUInt16LE(8), r.formatVersion, 'the reported version is the header one')
  return { ...r, patch }
}

t.test('shifted inserts, deletions, in-place edits and new data: copies survive the shift', async (t) => {
  const source = randomBytes(4 * MiB, 1)
  const edited = Buffer.from(source.subarray(MiB, MiB + 300_000))
  for (let i = 0; i < edited.length; i += 100) edited[i] = edited[i]! ^ 0x11 // a fine-tune-like in-place edit
  const target = Buffer.concat([
    source.subarray(0, 100_000),
    Buffer.from('a header that grew by a few bytes'),
    source.subarray(100_000, MiB),
    edited,
    source.subarray(MiB + 300_000, 3 * MiB),
    source.subarray(3 * MiB + 1000), // 1000 bytes deleted
    randomBytes(200_000, 2), // brand new data
  ])
  const r = await roundTrip(t, source, target)
  t.ok(r.stats.copy + r.stats.exact > 3.5 * MiB, `unchanged data is copied (${r.stats.copy + r.stats.exact} bytes)`)
  t.ok(r.stats.aligned >= 290_000, `the in-place edit is an aligned diff (${r.stats.aligned})`)
  t.ok(r.size < 200_000 + 100_000, `patch ${r.size} ≈ new data + a small diff`)
})

t.test('content with scattered inserts goes through bsdiff and costs a fraction of its size', async (t) => {
  const old = textLike(600_000, 3)
  // one byte inserted every ~700 bytes: no 1 KiB block survives and no fixed shift fits
  const parts: Buffer[] = []
  for (let i = 0; i < old.length; i += 700) parts.push(old.subarray(i, i + 700), Buffer.from('#'))
  const changed = Buffer.concat(parts)
  const source = Buffer.concat([randomBytes(MiB, 4), old, randomBytes(MiB, 5)])
  const target = Buffer.concat([randomBytes(MiB, 4), changed, randomBytes(MiB, 5)])
  const r = await roundTrip(t, source, target)
  t.ok(r.stats.bsdiffRuns >= 1, 'bsdiff-node ran')
  t.ok(r.stats.bsdiff >= 500_000, `most of the changed content is bsdiff (${r.stats.bsdiff})`)
  t.ok(r.size < 60_000, `patch ${r.size} is far below the ${changed.length} changed bytes`)
})

t.test('a rebuilt binary (short unchanged blocks between slightly moved code) is bsdiffed as a whole window', async (t) => {
  const old = textLike(MiB, 8)
  // per 4 KiB: 2 KiB unchanged (1 KiB blocks match at a drifting shift), then 2 KiB with a
  // byte inserted every 200: stretches far below bsdiffMinGap that no single shift fits
  const parts: Buffer[] = []
  for (let i = 0; i < old.length; i += 4096) {
    parts.push(old.subarray(i, i + 2048))
    for (let j = i + 2048; j < Math.min(i + 4096, old.length); j += 200) parts.push(old.subarray(j, Math.min(j + 200, i + 4096)), Buffer.from('%'))
  }
  const target = Buffer.concat(parts)
  const r = await roundTrip(t, old, target)
  t.ok(r.stats.bsdiffWindows >= 1, `whole-window bsdiff won (${r.stats.bsdiffWindows} windows)`)
  t.ok(r.size < 80_000, `patch ${r.size} is far below the ${target.length / 2} changed bytes`)
})

t.test('unrelated random content becomes REPLACE at about its own size', async (t) => {
  const source = randomBytes(2 * MiB, 6)
  const target = randomBytes(3 * MiB, 7)
  const r = await roundTrip(t, source, target)
  t.equal(r.stats.copy + r.stats.exact + r.stats.aligned + r.stats.bsdiff, 0)
  t.ok(r.size < target.length * 1.005 + 1024, `overhead is small (${r.size - target.length} bytes)`)
})

t.test('identical images are a handful of COPY ops', async (t) => {
  const source = randomBytes(3 * MiB, 8)
  const r = await roundTrip(t, source, source)
  t.equal(r.stats.copy, source.length)
  t.ok(r.size < 1024, `patch ${r.size} bytes`)
})

t.test('empty source and empty target', async (t) => {
  const data = randomBytes(100_000, 9)
  const a = await roundTrip(t, Buffer.alloc(0), data)
  t.equal(a.stats.literal, data.length)
  const b = await roundTrip(t, data, Buffer.alloc(0))
  t.equal(b.ops, 0)
})

t.test('a small budget shrinks windows, one op build at a time still works', async (t) => {
  const source = textLike(3 * MiB, 10)
  const target = Buffer.concat([source.subarray(0, MiB), Buffer.from('x'), source.subarray(MiB + 5)])
  const r = await roundTrip(t, source, target, { memoryBudget: 256 * MiB, concurrency: 1 })
  t.ok(r.size < 4096, `patch ${r.size}`)
})

t.test('the budget bounds the index and bsdiff windows for multi-GB images', async (t) => {
  const GiB = 2 ** 30
  const b = buildBudget(GiB, 8 * GiB, 2, 4)
  t.ok((18 * 8 * GiB) / b.blockSize <= GiB / 8, `index fits an eighth of the budget (block ${b.blockSize})`)
  t.ok(4 * 5 * b.window + 2 * 18 * b.bsdiffWindow + 160 * MiB + (18 * 8 * GiB) / b.blockSize <= GiB, 'windows + bsdiff + index fit')
  const small = buildBudget(256 * MiB, 200 * MiB, 2, 4)
  t.ok(small.bsdiffWindow < b.bsdiffWindow && small.window >= MiB)
})

t.test('missing input is DELTA_BUILD_INPUT and leaves no patch behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await t.rejects(makeDelta(join(dir, 'nope'), join(dir, 'nope2'), join(dir, 'patch')), { code: 'DELTA_BUILD_INPUT' })
  await t.rejects(readFile(join(dir, 'patch')), { code: 'ENOENT' })
})

t.test('format 2, codec 1 only: a changed gzip member is diffed inside its compression; one zlib cannot reproduce is byte-diffed', async (t) => {
  const { changelog } = await import('../client-sdk/delta-fixtures.js')
  const { gzipSync, constants } = await import('node:zlib')
  const { decodeHeader } = await import('../../client-sdk/src/delta/index.js')
  const gz = (b: Buffer) => gzipSync(b, { level: 9 })
  // Huffman-only output is not what strategy 0 gives at any level: no parameters prove it
  const huff = (b: Buffer) => gzipSync(b, { level: 6, strategy: constants.Z_HUFFMAN_ONLY })
  const image = (edit: number) =>
    Buffer.concat([randomBytes(MiB, 31), gz(changelog(3000, 32, edit)), randomBytes(300_000, 33), huff(changelog(2000, 34, edit)), randomBytes(MiB, 35)])
  const source = image(-1)
  const target = image(1500)
  const v1 = await roundTrip(t, source, target)
  // codec 2 (puff) would take the Huffman-only member too: delta-puff-build.test.ts
  const v2 = await roundTrip(t, source, target, { formatVersion: 2, memberCodecs: ['deflate'] })
  t.same(v2.memberCodecs, ['deflate'])
  t.equal(v2.stats.membersFound, 2, 'both members found')
  t.equal(v2.stats.membersProven, 1, 'only the zlib strategy-0 member re-encodes bit-exactly')
  t.equal(v2.stats.members, 1, 'one MEMBER op')
  t.ok(v2.size < v1.size / 2, `v2 patch ${v2.size} B < half of v1's ${v1.size} B`)
  const plain = randomBytes(2 * MiB, 36)
  const none = await roundTrip(t, plain, Buffer.concat([plain, Buffer.from('tail')]), { formatVersion: 2 })
  t.equal(none.stats.members, 0)
  const dir = await mkdtemp(join(tmpdir(), 'slipway-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'old'), source)
  await writeFile(join(dir, 'new'), target)
  await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'p2'), { formatVersion: 2 })
  t.equal(decodeHeader((await readFile(join(dir, 'p2'))).subarray(0, 128)).version, 2, 'a patch with a MEMBER op is version 2')
  await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'p1'))
  t.equal(decodeHeader((await readFile(join(dir, 'p1'))).subarray(0, 128)).version, 1, 'the default stays version 1')
})

t.test('format 3: sparse diff streams where a BSDIFF or MEMBER op is written, else version 1', async (t) => {
  const { imagePair, memberPair } = await import('../helpers/deltas.js')
  for (const [name, pair] of [['image', imagePair()], ['members', memberPair()]] as const) {
    const v1 = await roundTrip(t, pair.source, pair.target)
    const v3 = await roundTrip(t, pair.source, pair.target, { formatVersion: 3, memberCodecs: ['puff'] })
    t.equal(v3.formatVersion, 3, `${name}: version 3`)
    t.ok(v3.size <= v1.size * 1.01, `${name}: v3 ${v3.size} B is no larger than v1 ${v1.size} B (within 1 %)`)
  }
  // only COPY and REPLACE ops: nothing sparse to write, and every applier takes it
  const plain = randomBytes(2 * MiB, 41)
  const none = await roundTrip(t, plain, Buffer.concat([plain, randomBytes(4096, 42)]), { formatVersion: 3 })
  t.equal(none.formatVersion, 1, 'no BSDIFF or MEMBER op: version 1')
})

t.test('format 3: new quantized rows are stored by column (TRANSPOSED), smaller than in order', async (t) => {
  const { quantRows } = await import('../client-sdk/delta-fixtures.js')
  const { decodeHeader, decodeOpHeader, OpType } = await import('../../client-sdk/src/delta/index.js')
  const old = Buffer.concat([randomBytes(MiB, 81), quantRows(200_000, 82)])
  const next = Buffer.concat([randomBytes(MiB, 81), quantRows(200_000, 83)]) // the layer re-trained
  const v1 = await roundTrip(t, old, next)
  const v3 = await roundTrip(t, old, next, { formatVersion: 3 })
  t.equal(v3.formatVersion, 3)
  t.ok(v3.size < v1.size * 0.97, `v3 ${v3.size} B < 0.97 × v1 ${v1.size} B`)
  // the patch roundTrip built and applied: no third build of the same pair
  const patch = v3.patch
  const h = decodeHeader(patch.subarray(0, 128))
  const types: number[] = []
  for (let at = 128, i = 0; i < h.opCount; i++) {
    const op = decodeOpHeader(patch.subarray(at, at + 80), h.version)
    types.push(op.type)
    at += 80 + op.payloadLength
  }
  t.ok(types.includes(OpType.TRANSPOSED), `op types ${types.join(',')} include TRANSPOSED`)
})

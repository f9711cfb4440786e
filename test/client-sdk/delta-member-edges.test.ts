/**
 * The MEMBER paths of format version 2 at their edges (client-sdk/src/delta/ops.ts
 * `member`, and the MEMBER branches of format.ts): a member op that applies, with and
 * without a source member; each declared size (source raw, target raw, source member)
 * at exactly the op limit and one byte over, naming the field; a sourceless op that
 * declares source bytes; a codec bomb naming the source member; the op header's
 * descriptor room and version gate; the format names and the poll header.
 * Written for the surviving and uncovered mutants of `npm run mutate -- --area delta`
 * after format v2. Small members, so it runs in about a second.
 */
import { deflateRawSync } from 'node:zlib'
import t from 'tap'
import {
  applyDeltaStream,
  decodeOpHeader,
  DELTA_FORMATS_HEADER,
  deltaFormatsHeader,
  DeltaError,
  encodeOpHeader,
  formatName,
  OpType,
  type OpHeader,
} from '../../client-sdk/src/delta/index.js'
import type { MemberDescriptor } from '../../client-sdk/src/delta/member.js'
import { changelog, chunked, LEVEL9, memberOp, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

type Control = Array<[number, number, number]>

/**
 * A version-2 patch of one MEMBER op. With `srcRaw` the source image is its deflated
 * bytes (the member at offset 0); without, the source is 64 unrelated bytes and the op
 * has no source member.
 */
async function member(srcRaw: Buffer | undefined, newRaw: Buffer, control: Control, diff: Buffer, extra: Buffer, over: Partial<MemberDescriptor> = {}) {
  const compressed = srcRaw && deflateRawSync(srcRaw, LEVEL9)
  const source = compressed ?? randomBytes(64, 41)
  const encoded = await memberOp(0, compressed && srcRaw && { at: 0, compressed, raw: srcRaw }, newRaw, control, diff, extra, over)
  const target = deflateRawSync(newRaw, LEVEL9)
  const patch = await writePatch(source, target, [encoded], undefined, 2)
  return { source, target, patch, op: encoded.op }
}

/** Applies it; resolves to 'accepted' (the target, byte for byte) or the refusal. */
async function apply(m: { source: Buffer; target: Buffer; patch: Buffer }, maxOpTargetBytes?: number) {
  const sink = new MemSink()
  try {
    const limits = maxOpTargetBytes === undefined ? {} : { maxOpTargetBytes }
    await applyDeltaStream({ source: memSource(m.source), patch: chunked(m.patch, 1000), sink }, { limits })
    return sink.data.equals(m.target) ? { code: 'accepted' } : { code: 'wrong output' }
  } catch (e) {
    if (!(e instanceof DeltaError)) return { code: `not a DeltaError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

const accepted = { code: 'accepted' }

t.test('a MEMBER op rebuilds the target member from the source member (copy, insert, copy)', async (t) => {
  const oldRaw = changelog(60, 12)
  const newRaw = changelog(60, 12, 30)
  let head = 0
  while (oldRaw[head] === newRaw[head]) head++
  const inserted = newRaw.length - oldRaw.length
  const m = await member(oldRaw, newRaw, [[head, inserted, 0], [oldRaw.length - head, 0, 0]], Buffer.alloc(oldRaw.length), newRaw.subarray(head, head + inserted))
  t.ok(m.op.srcLength > 0 && m.op.ctrlLength > 0 && m.op.diffLength > 0, 'a source member and all three streams')
  t.same(await apply(m), accepted)
})

t.test('a MEMBER op without a source member: every decoded byte is extra', async (t) => {
  const raw = changelog(40, 13)
  const m = await member(undefined, raw, [[0, raw.length, 0]], Buffer.alloc(0), raw)
  t.equal(m.op.srcLength, 0)
  t.same(await apply(m), accepted, 'nothing is inflated from an empty source member')
})

t.test('a MEMBER op without a source member that declares source bytes is DELTA_CORRUPT', async (t) => {
  const raw = changelog(40, 13)
  const m = await member(undefined, raw, [[0, raw.length, 0]], Buffer.alloc(0), raw, { sourceRawLength: 5 })
  // without the check the op would apply: the inner streams read nothing of the source
  t.same(await apply(m), { code: 'DELTA_CORRUPT', message: 'member op without a source declares source bytes', details: undefined })
})

t.test('a source member that decodes past its declared size names the source member', async (t) => {
  const oldRaw = changelog(40, 14)
  const m = await member(oldRaw, oldRaw, [[oldRaw.length, 0, 0]], Buffer.alloc(oldRaw.length), Buffer.alloc(0), { sourceRawLength: oldRaw.length - 1 })
  t.match(await apply(m), { code: 'DELTA_CORRUPT', message: 'source member decodes to more than its declared size', details: { declared: oldRaw.length - 1 } })
})

t.test('each declared member size is allowed up to the op limit, inclusive, and refused one over it by name', async (t) => {
  const text = changelog(100, 15)
  const noise = randomBytes(2000, 16)
  const more = changelog(80, 17)
  const cases: Array<{ field: string; m: Awaited<ReturnType<typeof member>>; value: number }> = []
  {
    // the source member decodes to the most: keep its first 1000 bytes
    const m = await member(text, text.subarray(0, 1000), [[1000, 0, 0]], Buffer.alloc(1000), Buffer.alloc(0))
    cases.push({ field: 'sourceRawLength', m, value: text.length })
  }
  {
    // the target member decodes to the most: the source text, then more as extra
    const m = await member(text, Buffer.concat([text, more]), [[text.length, more.length, 0]], Buffer.alloc(text.length), more)
    cases.push({ field: 'targetRawLength', m, value: text.length + more.length })
  }
  {
    // the source member itself is the largest: random bytes deflate to a little more than they are
    const m = await member(noise, noise.subarray(0, 100), [[100, 0, 0]], Buffer.alloc(100), Buffer.alloc(0))
    t.ok(m.op.srcLength > noise.length, `a stored member is longer than its bytes (${m.op.srcLength} > ${noise.length})`)
    cases.push({ field: 'srcLength', m, value: m.op.srcLength })
  }
  for (const { field, m, value } of cases) {
    t.ok(m.op.targetLength < value, `${field}: the op's own output (${m.op.targetLength}) is under ${value}`)
    t.same(await apply(m, value), accepted, `${field} ${value} at a limit of ${value}`)
    t.same(
      await apply(m, value - 1),
      { code: 'DELTA_SIZE_LIMIT', message: `member ${field} ${value} exceeds the limit ${value - 1}`, details: { field, limit: value - 1 } },
      `${field} ${value} at a limit of ${value - 1}`,
    )
  }
})

const memberHeader = (o: Partial<OpHeader> = {}): OpHeader => ({
  type: OpType.MEMBER,
  payloadLength: 24 + 10 + 5 + 3,
  targetOffset: 0,
  targetLength: 7,
  srcOffset: 0,
  srcLength: 0,
  ctrlLength: 10,
  diffLength: 5,
  sha256: Buffer.alloc(32, 9),
  ...o,
})

const refusal = (f: () => unknown) => {
  try {
    f()
    return { code: 'accepted' }
  } catch (e) {
    return e instanceof DeltaError ? { code: e.code, message: e.message } : { code: `not a DeltaError: ${String(e)}` }
  }
}

t.test('a MEMBER op header: version 2 only, streams allowed, room for its descriptor', async (t) => {
  const h = memberHeader()
  t.same(decodeOpHeader(encodeOpHeader(h), 2), h, 'decoded as written')
  t.same(refusal(() => decodeOpHeader(encodeOpHeader(h), 1)), { code: 'DELTA_UNSUPPORTED', message: 'unknown delta op type 4' })
  // descriptor + control + diff exactly fill the payload: the extra stream is empty
  const full = memberHeader({ payloadLength: 24 + 10 + 5 })
  t.same(decodeOpHeader(encodeOpHeader(full), 2), full)
  // one byte short: the streams alone (15 bytes) would fit in 38; the 24-byte descriptor does not
  t.same(refusal(() => decodeOpHeader(encodeOpHeader(memberHeader({ payloadLength: 24 + 10 + 5 - 1 })), 2)), {
    code: 'DELTA_CORRUPT',
    message: 'invalid op header: stream lengths exceed payload',
  })
})

t.test('format names and the formats the agent reports on its poll', async (t) => {
  t.equal(formatName(1), 'slipway-delta-v1')
  t.equal(formatName(2), 'slipway-delta-v2')
  t.equal(formatName(3), 'slipway-delta-v3')
  t.equal(DELTA_FORMATS_HEADER, 'slipway-delta-formats')
  const zlib = process.versions.zlib
  t.ok(zlib, 'this Node has a zlib version')
  t.equal(deltaFormatsHeader(), `slipway-delta-v1, slipway-delta-v2;zlib=${zlib};members=deflate+puff, slipway-delta-v3;zlib=${zlib};members=deflate+puff+spool`)
  // a runtime without a zlib version says so rather than naming one
  const own = Object.getOwnPropertyDescriptor(process.versions, 'zlib')!
  t.teardown(() => void Object.defineProperty(process.versions, 'zlib', own))
  delete (process.versions as Record<string, string | undefined>).zlib
  t.equal(deltaFormatsHeader(), 'slipway-delta-v1, slipway-delta-v2;zlib=none;members=deflate+puff, slipway-delta-v3;zlib=none;members=deflate+puff+spool')
  Object.defineProperty(process.versions, 'zlib', own)
  t.equal(process.versions.zlib, zlib, 'restored')
})

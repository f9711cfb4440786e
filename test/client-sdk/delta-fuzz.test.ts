import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { inflateRawSync } from 'node:zlib'
import t from 'tap'
import { applyDeltaStream, DeltaError, encodeControl, OpType } from '../../client-sdk/src/delta/index.js'
import { encodeDescriptor, MemberCodec } from '../../client-sdk/src/delta/member.js'
import { puff } from '../../client-sdk/src/delta/puff.js'
import { brotli, copyOp, sha256 } from '../../server/delta/encode-op.js'
import { changelog, chunked, memSource, MemSink, randomBytes, sampleDelta, sampleMemberDelta, sampleSpoolDelta, sampleTransposedDelta, writePatch } from './delta-fixtures.js'

const KNOWN = new Set([
  'DELTA_BAD_MAGIC',
  'DELTA_UNSUPPORTED',
  'DELTA_TRUNCATED',
  'DELTA_CORRUPT',
  'DELTA_OP_HASH_MISMATCH',
  'DELTA_TARGET_HASH_MISMATCH',
  'DELTA_SOURCE_MISMATCH',
  'DELTA_OUT_OF_SOURCE',
  'DELTA_SIZE_LIMIT',
  'DELTA_MEMBER_MISMATCH',
])

/** Small seeded PRNG so a failing case can be replayed from its iteration number. */
function rng(seed: number) {
  let x = seed
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    return Math.floor((x / 2 ** 32) * n)
  }
}

function mutate(patch: Buffer, r: (n: number) => number): Buffer {
  const p = Buffer.from(patch)
  switch (r(6)) {
    case 0: // bit flips anywhere
      for (let k = 1 + r(3); k > 0; k--) {
        const i = r(p.length)
        p[i] = p[i]! ^ (1 << r(8))
      }
      return p
    case 1: // a random byte in an op header (first op header starts at 128)
      p[128 + r(Math.min(240, p.length - 128))] = r(256)
      return p
    case 2: // header field with the checksum repaired, so field validation is what stops it
      p[8 + r(104)] = r(256)
      sha256(p.subarray(0, 112)).copy(p, 112, 0, 16)
      return p
    case 3:
      return p.subarray(0, r(p.length))
    case 4: {
      const at = r(p.length)
      return Buffer.concat([p.subarray(0, at), p.subarray(at + 1 + r(64))])
    }
    default: {
      const at = r(p.length)
      return Buffer.concat([p.subarray(0, at), p.subarray(at, at + 1 + r(32)), p.subarray(at)])
    }
  }
}

async function fuzz(sample: { source: Buffer; target: Buffer; patch: Buffer }, seed: number, rounds: number) {
  const { source, target, patch } = sample
  const r = rng(seed)
  const seen = new Map<string, number>()
  const wrong: string[] = []
  let rebuilt = 0
  for (let i = 0; i < rounds; i++) {
    const bad = mutate(patch, r)
    const sink = new MemSink()
    try {
      await applyDeltaStream({ source: memSource(source), patch: chunked(bad, 1 + r(5000)), sink })
      if (!sink.data.equals(target)) wrong.push(`iteration ${i}: success with a wrong target`)
      rebuilt++
    } catch (e) {
      const code = e instanceof DeltaError ? e.code : `unexpected ${String(e)}`
      if (!KNOWN.has(code)) wrong.push(`iteration ${i}: ${code}`)
      seen.set(code, (seen.get(code) ?? 0) + 1)
    }
  }
  return { seen, rebuilt, wrong }
}

t.test('mutated patches fail with a known error code or rebuild the exact target; never crash or hang', async (t) => {
  const { seen, rebuilt, wrong } = await fuzz(await sampleDelta(), 20261129, 600)
  t.same(wrong, [], 'no wrong target, no unknown error')
  t.comment(JSON.stringify(Object.fromEntries(seen)), `rebuilt ${rebuilt}`)
  for (const c of ['DELTA_TRUNCATED', 'DELTA_CORRUPT', 'DELTA_OP_HASH_MISMATCH']) t.ok(seen.get(c), `mutations reached ${c}`)
  t.ok(rebuilt < 60, 'almost every mutation is detected')
})

t.test('version 2: mutated MEMBER patches (descriptor, inner streams, source member extent) fail with known codes', async (t) => {
  const { seen, rebuilt, wrong } = await fuzz(await sampleMemberDelta(), 20261203, 600)
  t.same(wrong, [], 'no wrong target, no unknown error')
  t.comment(JSON.stringify(Object.fromEntries(seen)), `rebuilt ${rebuilt}`)
  for (const c of ['DELTA_TRUNCATED', 'DELTA_CORRUPT']) t.ok(seen.get(c), `mutations reached ${c}`)
  t.ok(rebuilt < 60, 'almost every mutation is detected')
})

t.test('version 3: mutated patches with sparse diff streams (BSDIFF and MEMBER) and TRANSPOSED ops fail with known codes', async (t) => {
  for (const [name, sample, seed] of [
    ['bsdiff', await sampleDelta(3), 20261205],
    ['member', await sampleMemberDelta(3), 20261206],
    ['transposed', await sampleTransposedDelta(), 20261207],
  ] as const) {
    const sink = new MemSink()
    await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink })
    t.ok(sink.data.equals(sample.target), `${name}: the unmutated patch rebuilds the target`)
    const { seen, rebuilt, wrong } = await fuzz(sample, seed, 400)
    t.same(wrong, [], `${name}: no wrong target, no unknown error`)
    t.comment(name, JSON.stringify(Object.fromEntries(seen)), `rebuilt ${rebuilt}`)
    for (const c of ['DELTA_TRUNCATED', 'DELTA_CORRUPT']) t.ok(seen.get(c), `${name}: mutations reached ${c}`)
    t.ok(rebuilt < 40, `${name}: almost every mutation is detected`)
  }
})

/**
 * A version-2 patch with a codec-2 MEMBER op: GNU gzip members (no zlib reproduces them),
 * the target's puff rebuilt from the source's (common head from the source, the rest as
 * extra).
 */
async function samplePuffMemberDelta() {
  const body = (raw: Buffer) => {
    const gz = execFileSync('gzip', ['-9n', '-c'], { input: raw })
    const r = inflateRawSync(gz.subarray(10), { info: true }) as unknown as { engine: { bytesWritten: number } }
    return gz.subarray(10, 10 + r.engine.bytesWritten)
  }
  const prefix = randomBytes(4096, 13)
  const oldComp = body(changelog(300, 14))
  const newComp = body(changelog(300, 14, 120))
  const oldPuff = puff(oldComp, 1 << 20)
  const newPuff = puff(newComp, 1 << 20)
  const source = Buffer.concat([prefix, oldComp])
  const target = Buffer.concat([prefix, newComp])
  let head = 0
  while (oldPuff[head] === newPuff[head]) head++
  const descriptor = encodeDescriptor({ codec: MemberCodec.PUFF, level: 0, windowBits: 0, memLevel: 0, strategy: 0, sourceRawLength: oldPuff.length, targetRawLength: newPuff.length })
  const [c, d, e] = await Promise.all([brotli(encodeControl([[head, newPuff.length - head, 0]]), 11), brotli(Buffer.alloc(head), 9), brotli(newPuff.subarray(head), 9)])
  const member = {
    op: {
      type: OpType.MEMBER,
      payloadLength: descriptor.length + c.length + d.length + e.length,
      targetOffset: prefix.length,
      targetLength: newComp.length,
      srcOffset: prefix.length,
      srcLength: oldComp.length,
      ctrlLength: c.length,
      diffLength: d.length,
      sha256: sha256(newComp),
    },
    payload: Buffer.concat([descriptor, c, d, e]),
  }
  const patch = await writePatch(source, target, [copyOp(0, 0, prefix.length, sha256(prefix)), member], undefined, 2)
  return { source, target, patch }
}

t.test('version 3, member codec 3: mutated spooled MEMBER patches fail with known codes and leave no spool file', async (t) => {
  const sample = await sampleSpoolDelta()
  const before = readdirSync(tmpdir()).filter((n) => n.startsWith('.slipway-spool-')).length
  const { seen, rebuilt, wrong } = await fuzz(sample, 20261215, 200)
  t.same(wrong, [], 'no wrong target, no unknown error')
  t.comment(JSON.stringify(Object.fromEntries(seen)), `rebuilt ${rebuilt}`)
  for (const c of ['DELTA_TRUNCATED', 'DELTA_CORRUPT']) t.ok(seen.get(c), `mutations reached ${c}`)
  t.ok(rebuilt < 20, 'almost every mutation is detected')
  t.equal(readdirSync(tmpdir()).filter((n) => n.startsWith('.slipway-spool-')).length, before, 'no spool file left in the temp folder')
})

t.test('version 2, member codec 2: mutated puff MEMBER patches fail with known codes', async (t) => {
  const sample = await samplePuffMemberDelta()
  const sink = new MemSink()
  await applyDeltaStream({ source: memSource(sample.source), patch: chunked(sample.patch, 4096), sink })
  t.ok(sink.data.equals(sample.target), 'the unmutated patch rebuilds the target')
  const { seen, rebuilt, wrong } = await fuzz(sample, 20261204, 300)
  t.same(wrong, [], 'no wrong target, no unknown error')
  t.comment(JSON.stringify(Object.fromEntries(seen)), `rebuilt ${rebuilt}`)
  for (const c of ['DELTA_TRUNCATED', 'DELTA_CORRUPT']) t.ok(seen.get(c), `mutations reached ${c}`)
  t.ok(rebuilt < 30, 'almost every mutation is detected')
})

import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateRawSync } from 'node:zlib'
import { DeltaError, encodeControl, OpType, type SourceReader, type TargetSink } from '../../client-sdk/src/delta/index.js'
import { encodeDescriptor, MemberCodec, type MemberDescriptor } from '../../client-sdk/src/delta/member.js'
import { brotli, bsdiffOp, copyOp, encodeDiff, replaceOp, sha256, type EncodedOp } from '../../server/delta/encode-op.js'
import { bsdiffWindow } from '../../server/delta/bsdiff-window.js'
import { spoolPuffOf } from '../../server/delta/members.js'
import { PatchWriter } from '../../server/delta/patch-writer.js'

/** Deterministic bytes (xorshift32): the same data on every run and machine. */
export function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

export const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex')

export function memSource(buf: Buffer): SourceReader {
  return {
    size: buf.length,
    read: async (out, position) => buf.copy(out, 0, position, Math.min(buf.length, position + out.length)),
  }
}

export class MemSink implements TargetSink {
  data = Buffer.alloc(0)
  writes = 0
  async write(buf: Buffer, position: number) {
    if (position + buf.length > this.data.length) {
      const grown = Buffer.alloc(position + buf.length)
      this.data.copy(grown)
      this.data = grown
    }
    buf.copy(this.data, position)
    this.writes++
  }
  async read(buf: Buffer, position: number) {
    return this.data.copy(buf, 0, position, Math.min(this.data.length, position + buf.length))
  }
}

export async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

/**
 * A hand-built patch that exercises all three op types:
 * target = COPY(source[1000, +3000)) + REPLACE(literal) + BSDIFF(source tail, a few bytes changed, some extra).
 */
export async function sampleDelta(version: 1 | 3 = 1) {
  const source = randomBytes(64 * 1024, 7)
  const literal = Buffer.from('brand new bytes '.repeat(200))
  const tailSrc = source.subarray(20_000, 40_000)
  const changed = Buffer.from(tailSrc)
  for (let i = 0; i < changed.length; i += 997) changed[i] = changed[i]! ^ 0x5a
  const extra = Buffer.from('appended by the bsdiff op')
  const diff = Buffer.alloc(changed.length)
  for (let i = 0; i < diff.length; i++) diff[i] = (changed[i]! - tailSrc[i]!) & 0xff
  const target = Buffer.concat([source.subarray(1000, 4000), literal, changed, extra])
  const ops: EncodedOp[] = []
  ops.push(copyOp(0, 1000, 3000, sha256(source.subarray(1000, 4000))))
  ops.push(await replaceOp(3000, literal, 9))
  ops.push(
    await bsdiffOp(
      {
        targetOffset: 3000 + literal.length,
        target: Buffer.concat([changed, extra]),
        srcOffset: 20_000,
        srcLength: 20_000,
        control: [[changed.length, extra.length, 0]],
        diff,
        extra,
      },
      9,
      version === 3, // version 3: the diff stream as sparse records
    ),
  )
  const patch = await writePatch(source, target, ops, undefined, version)
  return { source, target, patch, ops }
}

export async function writePatch(source: Buffer, target: Buffer, ops: EncodedOp[], headerTarget?: Buffer, version = 1): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-delta-'))
  try {
    const w = await PatchWriter.create(join(dir, 'p'))
    for (const o of ops) await w.append(o.op, o.payload)
    await w.finish({
      version,
      sourceSize: source.length,
      targetSize: target.length,
      sourceSha256: sha256(source),
      targetSha256: headerTarget ?? sha256(target),
    })
    return await readFile(join(dir, 'p'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Text that deflates well and changes by a line, as a changelog does between versions. */
export function changelog(lines: number, seed: number, edit = -1): Buffer {
  const r = randomBytes(lines * 4, seed)
  const out: string[] = []
  for (let i = 0; i < lines; i++) {
    out.push(`  * Fix CVE-2026-${1000 + r[i * 4]! * 7}: ${['overflow', 'leak', 'race', 'bypass'][r[i * 4 + 1]! % 4]} in ${['parser', 'tls', 'libc', 'shell'][r[i * 4 + 2]! % 4]} (#${r[i * 4 + 3]})`)
    if (i === edit) out.push('  * New upstream security release.')
  }
  return Buffer.from(out.join('\n') + '\n')
}

export const LEVEL9: Omit<MemberDescriptor, 'codec' | 'sourceRawLength' | 'targetRawLength'> = { level: 9, windowBits: 15, memLevel: 8, strategy: 0 }

/** A MEMBER op built by hand: the inner streams turn oldRaw into newRaw with one control entry per call. */
export async function memberOp(
  at: number,
  src: { at: number; compressed: Buffer; raw: Buffer } | undefined,
  newRaw: Buffer,
  control: Array<[number, number, number]>,
  diff: Buffer,
  extra: Buffer,
  over: Partial<MemberDescriptor> = {},
  sparse = false,
): Promise<EncodedOp> {
  const compressed = deflateRawSync(newRaw, LEVEL9)
  const descriptor = encodeDescriptor({ codec: MemberCodec.DEFLATE, ...LEVEL9, sourceRawLength: src?.raw.length ?? 0, targetRawLength: newRaw.length, ...over })
  const [c, d, e] = await Promise.all([brotli(encodeControl(control), 11), encodeDiff(diff, 9, sparse), brotli(extra, 9)])
  return {
    op: {
      type: OpType.MEMBER,
      payloadLength: descriptor.length + c.length + d.length + e.length,
      targetOffset: at,
      targetLength: compressed.length,
      srcOffset: src?.at ?? 0,
      srcLength: src?.compressed.length ?? 0,
      ctrlLength: c.length,
      diffLength: d.length,
      sha256: sha256(compressed),
    },
    payload: Buffer.concat([descriptor, c, d, e]),
  }
}

/**
 * A version-2 patch: source = random bytes + a deflated changelog; target = the same
 * random prefix (COPY) + the changelog with one line inserted, deflated (MEMBER: the
 * inner streams copy the old text around the new line, which comes as extra).
 */
export async function sampleMemberDelta(version: 2 | 3 = 2) {
  const prefix = randomBytes(8192, 11)
  const oldRaw = changelog(400, 12)
  const newRaw = changelog(400, 12, 150)
  const oldComp = deflateRawSync(oldRaw, LEVEL9)
  const newComp = deflateRawSync(newRaw, LEVEL9)
  const source = Buffer.concat([prefix, oldComp])
  const target = Buffer.concat([prefix, newComp])
  let head = 0
  while (oldRaw[head] === newRaw[head]) head++
  const inserted = newRaw.length - oldRaw.length
  const ops = [
    copyOp(0, 0, prefix.length, sha256(prefix)),
    await memberOp(
      prefix.length,
      { at: prefix.length, compressed: oldComp, raw: oldRaw },
      newRaw,
      [
        [head, inserted, 0],
        [oldRaw.length - head, 0, 0],
      ],
      Buffer.alloc(oldRaw.length),
      newRaw.subarray(head, head + inserted),
      {},
      version === 3,
    ),
  ]
  const patch = await writePatch(source, target, ops, undefined, version)
  return { source, target, patch, ops, oldRaw, newRaw, oldComp, newComp, prefix }
}

/**
 * Rows of Q4_0-like blocks (as ../shared/bench/gen_model.py writes them): an fp16 scale
 * whose high byte takes a few values, then 16 bytes of nibbles around 8. By column they
 * pack smaller than in order, which is what a TRANSPOSED op (format 3) is for.
 */
export function quantRows(blocks: number, seed: number): Buffer {
  const r = randomBytes(blocks * 18, seed)
  const out = Buffer.alloc(blocks * 18)
  for (let i = 0; i < out.length; i++) {
    const col = i % 18
    const x = r[i]!
    out[i] = col === 0 ? x : col === 1 ? 0x18 + (x & 0x0b) : ((7 + (x % 3) - (x >> 7)) & 15) | (((8 - (x % 5 === 0 ? 1 : 0) + ((x >> 5) & 1)) & 15) << 4)
  }
  return out
}

/** A version-3 patch whose one op is TRANSPOSED (new quantized rows): target = those rows. */
export async function sampleTransposedDelta() {
  const { transpose, encodeTransposeDescriptor } = await import('../../client-sdk/src/delta/transpose.js')
  const source = randomBytes(4096, 51)
  const target = Buffer.concat([source.subarray(0, 1000), quantRows(3000, 52), Buffer.from('tail')])
  const body = target.subarray(1000)
  const columns = await brotli(transpose(body, 18), 9)
  const payload = Buffer.concat([encodeTransposeDescriptor(18), columns])
  const op = {
    type: OpType.TRANSPOSED,
    payloadLength: payload.length,
    targetOffset: 1000,
    targetLength: body.length,
    srcOffset: 0,
    srcLength: 0,
    ctrlLength: 0,
    diffLength: 0,
    sha256: sha256(body),
  }
  const ops = [copyOp(0, 0, 1000, sha256(source.subarray(0, 1000))), { op, payload }]
  const patch = await writePatch(source, target, ops, undefined, 3)
  return { source, target, patch, ops, body }
}

/** The DeltaError a call throws, as plain data (code and message); or 'no error'. */
export function refusal(f: () => unknown): { code: string; message?: string; details?: unknown } {
  try {
    f()
    return { code: 'no error' }
  } catch (e) {
    return e instanceof DeltaError ? { code: e.code, message: e.message, details: e.details } : { code: `not a DeltaError: ${String(e)}` }
  }
}

/** a seeded bit flip, byte change, cut or splice; a test compares the error of each across ways of applying it */
export function damage(patch: Buffer, seed: number): Buffer {
  let x = seed
  const r = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), Math.floor((x / 2 ** 32) * n))
  const p = Buffer.from(patch)
  switch (r(4)) {
    case 0:
      for (let k = 1 + r(3); k > 0; k--) {
        const i = 128 + r(p.length - 128)
        p[i] = p[i]! ^ (1 << r(8))
      }
      return p
    case 1:
      return p.subarray(0, 128 + r(p.length - 128))
    case 2: {
      const i = 128 + r(Math.min(400, p.length - 128))
      p[i] = r(256)
      return p
    }
    default: {
      const at = 128 + r(p.length - 128)
      return Buffer.concat([p.subarray(0, at), p.subarray(at + 1 + r(64))])
    }
  }
}

/**
 * A member for codec 3 (spool): ~2.7 MB of text each side, deflated to ~330 KB, puffing to
 * ~420 KB: over a 256 KiB op limit, so only a spooled op takes it in a test's limits.
 */
export const spoolMembers = (() => {
  const oldRaw = changelog(60_000, 21)
  // a line inserted and a few changed, as between two builds of a kernel or an initramfs
  const newRaw = Buffer.from(changelog(60_000, 21, 30_000).toString().replace('(#17)', '(#18)').replace('(#201)', '(#202)'))
  return { oldRaw, newRaw, oldComp: deflateRawSync(oldRaw, { level: 9 }), newComp: deflateRawSync(newRaw, { level: 9 }), prefix: randomBytes(70_000, 22) }
})()

/**
 * A version-3 patch: source = prefix + old member, target = prefix + new member; a COPY
 * and one spooled MEMBER op whose inner streams are bsdiff's over the two spooled puffs.
 * `over` changes its descriptor, `opOver` its recorded sha256 or its source member's length.
 */
export async function sampleSpoolDelta(over: Partial<MemberDescriptor> = {}, opOver: { sha256?: Buffer; srcLength?: number } = {}) {
  const { oldRaw, newRaw, oldComp, newComp, prefix } = spoolMembers
  const oldPuff = spoolPuffOf(oldComp, oldRaw.length, false)!
  const newPuff = spoolPuffOf(newComp, newRaw.length)!
  const { control, diff, extra } = await bsdiffWindow(oldPuff, newPuff)
  const noParams = { level: 0, windowBits: 0, memLevel: 0, strategy: 0 }
  const sparse = true // version 3: sparse diff records
  const m = await memberOp(prefix.length, { at: prefix.length, compressed: oldComp, raw: oldPuff }, newPuff, control, diff, extra, { codec: MemberCodec.SPOOL, ...noParams, ...over }, sparse)
  // memberOp deflates its "raw" bytes for the target: a spooled op's target is the member's own compressed bytes
  m.op.targetLength = newComp.length
  m.op.sha256 = opOver.sha256 ?? sha256(newComp)
  if (opOver.srcLength !== undefined) m.op.srcLength = opOver.srcLength
  const source = Buffer.concat([prefix, oldComp])
  const target = Buffer.concat([prefix, newComp])
  const patch = await writePatch(source, target, [copyOp(0, 0, prefix.length, sha256(prefix)), m], undefined, 3)
  return { source, target, patch, op: m.op, oldPuff, newPuff }
}

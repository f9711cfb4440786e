import { inflateRawSync } from 'node:zlib'
import { encodeControl, OpType, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { encodeDescriptor, MemberCodec } from '../../client-sdk/src/delta/member.js'
import { bsdiffWindow } from './bsdiff-window.js'
import { ControlBuilder } from './control-builder.js'
import { brotli, encodeDiff, sha256, type EncodedOp } from './encode-op.js'
import { puffOf, spoolPuffOf, type DeflateParams, type FoundMember } from './members.js'
import type { Piece, PlanItem } from './planner.js'
import { buildRegion, readAt, type RegionContext } from './region.js'

/** A target member to encode as a MEMBER op, with the source member it came from (if any). */
export interface MemberItem {
  kind: 'member'
  t: number
  len: number
  target: FoundMember
  source?: FoundMember
}

/**
 * Cuts the planner's items at member boundaries: the bytes of each member become one
 * member item, the rest stays as planned (COPY ranges shortened, region pieces cut).
 * `members` are in target order and do not overlap.
 */
export function* carveMembers(items: Iterable<PlanItem>, members: Array<Omit<MemberItem, 'kind' | 't' | 'len'>>): Generator<PlanItem | MemberItem> {
  let mi = 0
  for (const item of items) {
    let a = item.t
    const b = item.t + item.len
    while (a < b) {
      while (mi < members.length && members[mi]!.target.at + members[mi]!.target.len <= a) mi++
      const m = members[mi]?.target
      if (!m || m.at >= b) {
        yield part(item, a, b)
        break
      }
      if (m.at > a) {
        yield part(item, a, m.at)
        a = m.at
      }
      if (a === m.at) yield { kind: 'member', t: m.at, len: m.len, ...members[mi]! }
      a = Math.min(b, m.at + m.len)
    }
  }
}

/** item restricted to target [a, b) */
function part(item: PlanItem, a: number, b: number): PlanItem {
  if (a === item.t && b === item.t + item.len) return item
  if (item.kind === 'copy') return { kind: 'copy', t: a, s: item.s + (a - item.t), len: b - a }
  const pieces: Piece[] = []
  for (const p of item.pieces) {
    const from = Math.max(a, p.t)
    const to = Math.min(b, p.t + p.len)
    if (from < to) pieces.push({ ...p, t: from, len: to - from, s: p.s < 0 ? p.s : p.s + (from - p.t) })
  }
  return { kind: 'region', t: a, len: b - a, pieces }
}

/** member codec counters a build reports beside BuildStats (builder.ts adds them) */
export interface MemberCodecStats {
  /** MEMBER ops re-encoded with zlib (codec 1) and from their puff (codec 2) */
  membersDeflate: number
  membersPuff: number
  /** target members whose puff round-trips (codec 2 proven) */
  membersPuffable: number
  /** MEMBER ops spooled (codec 3), and target members over 4 MiB decoded whose spooled puff round-trips */
  membersSpool: number
  membersSpoolable: number
}

interface Variant {
  codec: number
  descriptor: Buffer
  ctrl: Buffer
  diff: Buffer
  extra: Buffer
  useOld: boolean
  payloadLength: number
}

/**
 * One member → a MEMBER op: the inner bsdiff runs on the decoded bytes (codec 1) or the
 * puffs (codec 2) of the source and target members, and the device re-encodes with the
 * proven parameters or huffs the rebuilt puff. With both codecs proven and allowed the
 * smaller op wins. When neither pays (no useful source member, or content that changed
 * wholesale), the member's bytes get the ordinary byte encoding instead.
 */
export async function encodeMember(m: MemberItem, ctx: RegionContext, tag: string): Promise<EncodedOp> {
  const comp = await readAt(ctx.target, m.t, m.len)
  const sourceComp = m.source ? await readAt(ctx.source, m.source.at, m.source.len) : undefined
  const variants: Variant[] = []
  if (m.target.params) {
    const raw = inflateRawSync(comp)
    const old = sourceComp ? inflateRawSync(sourceComp) : Buffer.alloc(0)
    variants.push(await variant(MemberCodec.DEFLATE, m.target.params, old, raw, ctx, `${tag}d`))
  }
  if (m.target.puffLen !== undefined) {
    const target = puffOf(comp, m.target.rawLen)
    // a source member puff cannot spell leaves the target puff to come as extra bytes
    const old = (sourceComp && puffOf(sourceComp, m.source!.rawLen)) || Buffer.alloc(0)
    if (target) variants.push(await variant(MemberCodec.PUFF, NO_PARAMS, old, target, ctx, `${tag}p`))
  }
  if (m.target.spoolLen !== undefined) {
    // proven when the scan set spoolLen; the build's verify applies the whole patch as well
    const target = spoolPuffOf(comp, m.target.rawLen, false)
    // the device puffs the source member without a proof: any deflate stream puff spells will do
    const old = (sourceComp && spoolPuffOf(sourceComp, m.source!.rawLen, false)) || Buffer.alloc(0)
    if (target) variants.push(await variant(MemberCodec.SPOOL, NO_PARAMS, old, target, ctx, `${tag}s`))
  }
  const best = variants.sort((a, b) => a.payloadLength - b.payloadLength)[0]
  // re-encoded deflate output does not compress: its byte diff costs about its length
  if (!best || best.payloadLength >= 0.9 * m.len) {
    ctx.stats.memberFallbacks++
    const piece: Piece = { t: m.t, len: m.len, s: -1, cands: m.source ? [m.source.at - m.t] : [] }
    return buildRegion(m.t, m.len, [piece], ctx, tag)
  }
  ctx.stats.members++
  ctx.stats.memberBytes += m.len
  const cs = ctx.stats as typeof ctx.stats & Partial<MemberCodecStats>
  if (best.codec === MemberCodec.PUFF) cs.membersPuff = (cs.membersPuff ?? 0) + 1
  else if (best.codec === MemberCodec.SPOOL) cs.membersSpool = (cs.membersSpool ?? 0) + 1
  else cs.membersDeflate = (cs.membersDeflate ?? 0) + 1
  const op: OpHeader = {
    type: OpType.MEMBER,
    payloadLength: best.payloadLength,
    targetOffset: m.t,
    targetLength: m.len,
    srcOffset: best.useOld ? m.source!.at : 0,
    srcLength: best.useOld ? m.source!.len : 0,
    ctrlLength: best.ctrl.length,
    diffLength: best.diff.length,
    sha256: sha256(comp),
  }
  return { op, payload: Buffer.concat([best.descriptor, best.ctrl, best.diff, best.extra]) }
}

const NO_PARAMS: DeflateParams = { level: 0, windowBits: 0, memLevel: 0, strategy: 0 }

/** The inner bsdiff of `raw` (what the device must rebuild) against `old`, as a MEMBER payload of `codec`. */
async function variant(codec: number, params: DeflateParams, old: Buffer, raw: Buffer, ctx: RegionContext, tag: string): Promise<Variant> {
  const cb = new ControlBuilder(0)
  const useOld = old.length >= 64
  if (useOld) {
    const { control, diff, extra } = await ctx.bsdiffSlots.run(() => bsdiffWindow(old, raw))
    let oldpos = 0
    let d = 0
    let e = 0
    for (const [x, y, z] of control) {
      cb.diff(oldpos, diff.subarray(d, d + x))
      cb.extra(extra.subarray(e, e + y))
      d += x
      e += y
      oldpos += x + z
    }
  } else cb.extra(raw)
  const streams = cb.streams()
  const [ctrl, diff, extra] = await Promise.all([brotli(encodeControl(cb.entries), 11), encodeDiff(streams.diff, ctx.quality, ctx.formatV3), brotli(streams.extra, ctx.quality)])
  const descriptor = encodeDescriptor({ codec, ...params, sourceRawLength: useOld ? old.length : 0, targetRawLength: raw.length })
  return { codec, descriptor, ctrl, diff, extra, useOld, payloadLength: descriptor.length + ctrl.length + diff.length + extra.length }
}

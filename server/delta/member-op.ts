import { inflateRawSync } from 'node:zlib'
import { encodeControl, OpType, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { encodeDescriptor, MemberCodec } from '../../client-sdk/src/delta/member.js'
import { bsdiffWindow } from './bsdiff-window.js'
import { ControlBuilder } from './control-builder.js'
import { brotli, sha256, type EncodedOp } from './encode-op.js'
import type { FoundMember } from './members.js'
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

/**
 * One member → a MEMBER op: the inner bsdiff runs on the decoded bytes of the source and
 * target members, and the device re-encodes with the proven parameters. When that does
 * not pay (no useful source member, or content that changed wholesale), the member's
 * bytes get the ordinary byte encoding instead.
 */
export async function encodeMember(m: MemberItem, ctx: RegionContext, tag: string): Promise<EncodedOp> {
  const comp = await readAt(ctx.target, m.t, m.len)
  const raw = inflateRawSync(comp)
  const old = m.source ? inflateRawSync(await readAt(ctx.source, m.source.at, m.source.len)) : Buffer.alloc(0)
  const cb = new ControlBuilder(0)
  const useOld = old.length >= 64
  if (useOld) {
    const { control, diff, extra } = await ctx.bsdiffSlots.run(() => bsdiffWindow(ctx.tmpDir, tag, old, raw))
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
  const [ctrl, diff, extra] = await Promise.all([brotli(encodeControl(cb.entries), 11), brotli(streams.diff, ctx.quality), brotli(streams.extra, ctx.quality)])
  const descriptor = encodeDescriptor({ codec: MemberCodec.DEFLATE, ...m.target.params!, sourceRawLength: useOld ? old.length : 0, targetRawLength: raw.length })
  const payloadLength = descriptor.length + ctrl.length + diff.length + extra.length
  // re-encoded deflate output does not compress: its byte diff costs about its length
  if (payloadLength >= 0.9 * m.len) {
    ctx.stats.memberFallbacks++
    const piece: Piece = { t: m.t, len: m.len, s: -1, cands: m.source ? [m.source.at - m.t] : [] }
    return buildRegion(m.t, m.len, [piece], ctx, tag)
  }
  ctx.stats.members++
  ctx.stats.memberBytes += m.len
  const op: OpHeader = {
    type: OpType.MEMBER,
    payloadLength,
    targetOffset: m.t,
    targetLength: m.len,
    srcOffset: useOld ? m.source!.at : 0,
    srcLength: useOld ? m.source!.len : 0,
    ctrlLength: ctrl.length,
    diffLength: diff.length,
    sha256: sha256(comp),
  }
  return { op, payload: Buffer.concat([descriptor, ctrl, diff, extra]) }
}

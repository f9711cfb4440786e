/**
 * Which delta formats a device's applier takes, from the `slipway-delta-formats` poll
 * header its agent sends (client-sdk/src/delta/format.ts):
 * `slipway-delta-v1, slipway-delta-v2;zlib=1.3.0.1-motley;members=deflate+puff, slipway-delta-v3;zlib=…;members=deflate+puff`.
 *
 * A version-2 patch's MEMBER ops use member codecs (DELTA-FORMAT.md "MEMBER"): `deflate`
 * (codec 1) re-encodes with the device's zlib, which must be the builder's for the bytes to
 * come out the same, so it counts only with a zlib version equal to `builderZlib`; `puff`
 * (codec 2) writes the recorded deflate bits back and needs no zlib match. A v2 token
 * without `members=` (an agent from before codec 2) means `deflate` only. No header (an
 * older agent) means version 1 only. A v3 token (sparse diff streams) takes the same
 * parameters, for the MEMBER ops a version-3 patch may hold.
 *
 * The list returned holds *offer formats*: one string per kind of patch the device can
 * apply. A built patch's offer format is `deltaOfferFormat(version, memberCodecs)` (from
 * makeDelta's result); a patch may be offered only when its offer format is in the list.
 * `slipway-delta-v2` (also the signed metadata's format name of every v2 patch) stands for
 * a v2 patch whose members are all codec 1, which is what every v2 patch built before
 * codec 2 is and what makeDelta builds by default. Version 3 names are plain:
 * `slipway-delta-v3` (no MEMBER ops) plus `+deflate`, `+puff` and `+spool` (codec 3: puffs
 * spooled to disk, for members too large to decode in memory) for the codecs used.
 */
export const DELTA_FORMAT_V1 = 'slipway-delta-v1'
export const DELTA_FORMAT_V2 = 'slipway-delta-v2'
/** a v2 patch whose MEMBER ops are all codec 2 (puff): any device that reports `puff`, whatever its zlib */
export const DELTA_FORMAT_V2_PUFF = 'slipway-delta-v2+puff'
/** a v2 patch with members of both codecs: `puff` and a matching zlib */
export const DELTA_FORMAT_V2_DEFLATE_PUFF = 'slipway-delta-v2+deflate+puff'
/** version 3: sparse diff streams; its offer formats add the member codecs its MEMBER ops use */
export const DELTA_FORMAT_V3 = 'slipway-delta-v3'

export type MemberCodecName = 'deflate' | 'puff' | 'spool'

/** version 3 offer formats name the codecs a patch uses in this order: `slipway-delta-v3+puff+spool` */
const V3_CODECS: readonly MemberCodecName[] = ['deflate', 'puff', 'spool']

export function acceptedDeltaFormats(header: string | undefined, builderZlib: string | undefined): string[] {
  const out = new Set([DELTA_FORMAT_V1])
  for (const token of (header ?? '').split(',')) {
    const [name, ...params] = token.split(';').map((s) => s.trim())
    if (name !== DELTA_FORMAT_V2 && name !== DELTA_FORMAT_V3) continue
    const param = (key: string) => params.find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1)
    const zlib = param('zlib')
    const members = (param('members') ?? 'deflate').split('+')
    const deflate = members.includes('deflate') && zlib !== undefined && builderZlib !== undefined && zlib === builderZlib
    const puff = members.includes('puff')
    if (name === DELTA_FORMAT_V3) {
      // every patch whose codecs the device takes: each subset, named in V3_CODECS order
      const takes = V3_CODECS.filter((c) => (c === 'deflate' ? deflate : members.includes(c)))
      for (let set = 0; set < 1 << takes.length; set++) out.add(deltaOfferFormat(3, takes.filter((_, i) => set & (1 << i))))
      continue
    }
    if (deflate) out.add(DELTA_FORMAT_V2)
    if (puff) out.add(DELTA_FORMAT_V2_PUFF)
    if (deflate && puff) out.add(DELTA_FORMAT_V2_DEFLATE_PUFF)
  }
  return [...out]
}

/**
 * The offer format of a built patch: what a device must accept (acceptedDeltaFormats) to
 * be offered it. `version` is the patch header's version, `memberCodecs` the codecs its
 * MEMBER ops use (makeDelta's `memberCodecs`; [] for version 1).
 */
export function deltaOfferFormat(version: number, memberCodecs: readonly MemberCodecName[]): string {
  if (version === 1) return DELTA_FORMAT_V1
  const puff = memberCodecs.includes('puff')
  if (version === 3) return DELTA_FORMAT_V3 + V3_CODECS.filter((c) => memberCodecs.includes(c)).map((c) => `+${c}`).join('')
  // no v2 applier takes codec 3, and the builder writes it only in v3: a name no device accepts
  if (memberCodecs.includes('spool')) return `${DELTA_FORMAT_V2}+spool`
  if (!puff) return DELTA_FORMAT_V2
  return memberCodecs.includes('deflate') ? DELTA_FORMAT_V2_DEFLATE_PUFF : DELTA_FORMAT_V2_PUFF
}

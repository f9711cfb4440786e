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
 * `slipway-delta-v3` (no MEMBER ops) plus `+deflate` and/or `+puff` for the codecs used.
 */
export const DELTA_FORMAT_V1 = 'slipway-delta-v1'
export const DELTA_FORMAT_V2 = 'slipway-delta-v2'
/** a v2 patch whose MEMBER ops are all codec 2 (puff): any device that reports `puff`, whatever its zlib */
export const DELTA_FORMAT_V2_PUFF = 'slipway-delta-v2+puff'
/** a v2 patch with members of both codecs: `puff` and a matching zlib */
export const DELTA_FORMAT_V2_DEFLATE_PUFF = 'slipway-delta-v2+deflate+puff'
/** version 3: sparse diff streams; its offer formats add the member codecs its MEMBER ops use */
export const DELTA_FORMAT_V3 = 'slipway-delta-v3'

export type MemberCodecName = 'deflate' | 'puff'

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
      out.add(DELTA_FORMAT_V3)
      if (deflate) out.add(`${DELTA_FORMAT_V3}+deflate`)
      if (puff) out.add(`${DELTA_FORMAT_V3}+puff`)
      if (deflate && puff) out.add(`${DELTA_FORMAT_V3}+deflate+puff`)
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
  if (version === 3) return DELTA_FORMAT_V3 + (memberCodecs.includes('deflate') ? '+deflate' : '') + (puff ? '+puff' : '')
  if (!puff) return DELTA_FORMAT_V2
  return memberCodecs.includes('deflate') ? DELTA_FORMAT_V2_DEFLATE_PUFF : DELTA_FORMAT_V2_PUFF
}

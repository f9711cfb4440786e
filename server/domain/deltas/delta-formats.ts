/**
 * Which delta formats a device's applier takes, from the `slipway-delta-formats` poll
 * header its agent sends (client-sdk/src/delta/format.ts): `slipway-delta-v1,
 * slipway-delta-v2;zlib=1.3.0.1-motley`. Format 2 re-encodes compressed members with
 * the device's zlib, which must be the builder's for the bytes to come out the same, so
 * it counts only with a zlib version equal to `builderZlib`. No header (an older agent)
 * means version 1 only.
 */
export const DELTA_FORMAT_V1 = 'slipway-delta-v1'
export const DELTA_FORMAT_V2 = 'slipway-delta-v2'

export function acceptedDeltaFormats(header: string | undefined, builderZlib: string | undefined): string[] {
  const out = new Set([DELTA_FORMAT_V1])
  for (const token of (header ?? '').split(',')) {
    const [name, ...params] = token.split(';').map((s) => s.trim())
    if (name !== DELTA_FORMAT_V2) continue
    const zlib = params.find((p) => p.startsWith('zlib='))?.slice(5)
    if (zlib !== undefined && builderZlib !== undefined && zlib === builderZlib) out.add(DELTA_FORMAT_V2)
  }
  return [...out]
}

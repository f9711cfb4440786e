/**
 * Delta metadata: a patch that turns one image into another. Signed by the
 * `online` role. The device still checks the reconstructed image against the
 * CI-signed target hash, so a forged delta can waste a download but never
 * install an image CI did not sign.
 */
import { checkCommon, commonFields, type SignedCommon } from './common.js'
import { int, sha256Hex, str } from './guard.js'

export interface Delta {
  /** sha256 of the image the patch applies to */
  sourceSha256: string
  /** sha256 of the image the patch produces (= the release target's sha256) */
  targetSha256: string
  patchSha256: string
  /** patch bytes */
  patchLength: number
  /** patch format, e.g. `bsdiff40-windowed` */
  format: string
}

export interface DeltaSigned extends SignedCommon<'delta'>, Delta {}

export function buildDelta(d: Delta, opts: { version?: number; expires: string }): DeltaSigned {
  return parseDelta({ ...commonFields('delta', opts.version ?? 1, opts.expires), ...d }).signed
}

/** Shape of a delta description, wherever it appears (document or assignment). */
export function parseDeltaFields(o: Record<string, unknown>, at = ''): Delta {
  return {
    sourceSha256: sha256Hex(o.sourceSha256, `${at}sourceSha256`),
    targetSha256: sha256Hex(o.targetSha256, `${at}targetSha256`),
    patchSha256: sha256Hex(o.patchSha256, `${at}patchSha256`),
    patchLength: int(o.patchLength, `${at}patchLength`, 1),
    format: str(o.format, `${at}format`, 64),
  }
}

export function parseDelta(v: unknown): { signed: DeltaSigned; delta: Delta } {
  const o = checkCommon(v, 'delta')
  return { signed: o as unknown as DeltaSigned, delta: parseDeltaFields(o) }
}

/**
 * The ReleaseMetadataVerifier of the trust layer: a push is accepted only with
 * release metadata (a TUF targets document) that meets the `release` threshold of
 * the current root AND signs exactly the artifact being pushed. Checking the
 * signature alone would let CI metadata for one artifact vouch for another
 * (TUF 1.0 §5.7: the target's length and hashes are what bind the bytes).
 */
import { canonicalWire } from '../../../signing/canonical-json.js'
import { TrustError, verifyRelease, type Release } from '../../../signing/verify/index.js'
import { invalid, unprocessable } from '../errors.js'
import type { Provenance } from '../model.js'
import type { ReleaseInput } from './release-input.js'
import type { TrustService } from '../trust/trust-service.js'
import type { ReleaseMetadataVerifier, VerifiedReleaseMetadata } from '../ports/upload-area.js'

/** Pushed fields that must equal the signed ones, in the order they are reported. */
function mismatches(signed: Release, pushed: ReleaseInput): string[] {
  const sorted = (a: readonly string[]) => JSON.stringify([...a].sort())
  const out: string[] = []
  if (signed.name !== pushed.name) out.push('name')
  if (signed.version !== pushed.version) out.push('version')
  if (signed.sha256 !== pushed.sha256) out.push('sha256')
  if (signed.length !== pushed.length) out.push('length')
  if (signed.kind !== pushed.kind) out.push('kind')
  if (sorted(signed.hardware) !== sorted(pushed.hardware)) out.push('hardware')
  if (signed.securityVersion !== pushed.securityVersion) out.push('securityVersion')
  // provenance is optional in the push; what is given must agree with what CI signed
  for (const k of ['sourceRevision', 'builder', 'sbomDigest', 'license'] as const)
    if (pushed.provenance[k] !== undefined && pushed.provenance[k] !== signed.provenance[k]) out.push(`provenance.${k}`)
  return out
}

export class SignedReleaseVerifier implements ReleaseMetadataVerifier {
  constructor(private readonly trust: TrustService) {}

  async verify(input: ReleaseInput): Promise<VerifiedReleaseMetadata> {
    if (input.metadata === undefined || input.metadata === null)
      throw invalid('RELEASE_METADATA_REQUIRED', 'a release needs CI-signed release metadata (slipway push --key, or slipway release sign then --metadata)')
    let bytes: Buffer
    try {
      // The envelope travels as JSON inside the push body; its canonical form is
      // what the signatures cover and what devices will be served.
      bytes = Buffer.from(canonicalWire(input.metadata), 'utf8')
    } catch (e) {
      if (e instanceof TrustError) throw e // DOC_NOT_CANONICAL: a float, a lone surrogate, nesting too deep
      throw new TrustError('DOC_MALFORMED', `release metadata is not canonical-JSON encodable: ${(e as Error).message}`, undefined, { cause: e })
    }
    const trust = await this.trust.current()
    const { release, keyIds } = verifyRelease(trust, bytes)
    const fields = mismatches(release, input)
    if (fields.length > 0)
      throw unprocessable('RELEASE_METADATA_MISMATCH', `the signed release metadata does not match the pushed ${fields.join(', ')}`, {
        fields,
        signed: Object.fromEntries(fields.map((f) => [f, f.startsWith('provenance.') ? release.provenance[f.slice(11) as keyof Provenance] : release[f as keyof Release]])),
      })
    return { metadata: JSON.parse(bytes.toString('utf8')), provenance: { ...release.provenance }, keyIds, rootVersion: trust.version }
  }

  async checkSigners(keyIds: readonly string[]): Promise<void> {
    const trust = await this.trust.current()
    const role = trust.role('release')
    const revoked = keyIds.filter((id) => trust.revoked('release').has(id))
    if (revoked.length > 0) throw new TrustError('SIGNATURE_REVOKED_KEY', `key(s) ${revoked.join(', ')} were removed from the release role`, { keyIds: revoked })
    const known = new Set(keyIds.filter((id) => role.keys.has(id)))
    if (known.size === 0)
      throw new TrustError('SIGNATURE_UNKNOWN_KEY', `the release role of root v${trust.version} does not list ${keyIds.length ? keyIds.join(', ') : 'any signing key given'}`, {
        keyIds: [...keyIds],
        release: [...role.keys.keys()],
      })
    if (known.size < role.threshold)
      throw new TrustError('THRESHOLD_NOT_MET', `the release role needs ${role.threshold} keys; ${known.size} given`, { keyIds: [...known], threshold: role.threshold })
  }
}

/**
 * Provenance policy: per release name, the provenance fields a push must carry in its
 * CI-signed metadata (issue 12 §5). Checked where a push can be refused before a byte
 * is sent (preflight, the tus creation request) and again at the bind, on what CI signed.
 */
import { unprocessable } from '../errors.js'
import type { Provenance } from '../model.js'

export const PROVENANCE_FIELDS = ['sourceRevision', 'builder', 'sbomDigest', 'license'] as const
export type ProvenanceField = (typeof PROVENANCE_FIELDS)[number]

export interface ReleasePolicy {
  name: string
  /** fields the signed provenance must carry, in PROVENANCE_FIELDS order */
  require: ProvenanceField[]
  /** who set it last (`token:<id>`); null for a name that never had a policy */
  updatedBy: string | null
  updatedAt: string | null
}

export interface ReleasePolicyRepository {
  find(name: string): Promise<ReleasePolicy | undefined>
  upsert(policy: ReleasePolicy): Promise<void>
}

/**
 * `slipway push` records a field CI did not give as "unspecified" (the signed document
 * needs all three): that is a missing field, not a value.
 */
const given = (v: string | undefined) => v !== undefined && v.trim() !== '' && v !== 'unspecified'

export const missingFields = (require: readonly ProvenanceField[], p: Provenance): ProvenanceField[] => require.filter((f) => !given(p[f]))

/** Throws PROVENANCE_REQUIRED (422) naming every required field `p` lacks. */
export function enforcePolicy(policy: ReleasePolicy | undefined, p: Provenance): void {
  if (!policy) return
  const missing = missingFields(policy.require, p)
  if (missing.length > 0)
    throw unprocessable('PROVENANCE_REQUIRED', `releases named ${policy.name} must carry signed provenance ${missing.join(', ')}`, {
      name: policy.name,
      missing,
      required: policy.require,
    })
}

/** The fields in their canonical order, each once. */
export const normalFields = (fields: readonly ProvenanceField[]): ProvenanceField[] => PROVENANCE_FIELDS.filter((f) => fields.includes(f))

/** Domain records shared by services and repositories. */

export const ROLES = ['admin', 'ci', 'operator'] as const
export type Role = (typeof ROLES)[number]

export interface ApiToken {
  id: string
  role: Role
  label: string
  /** hex sha256 of the secret token */
  tokenHash: string
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
}

/** Who is calling. Devices get their own kind with the rollout issue. */
export type Principal = { kind: 'token'; tokenId: string; role: Role }

export const RELEASE_KINDS = ['os-image', 'model'] as const
export type ReleaseKind = (typeof RELEASE_KINDS)[number]

export interface Provenance {
  sourceRevision?: string
  builder?: string
  sbomDigest?: string
}

export interface Release {
  id: string
  name: string
  version: string
  kind: ReleaseKind
  hardware: string[]
  sha256: string
  length: number
  securityVersion: number
  provenance: Provenance
  /** the CI-signed release metadata envelope, verified at push; null only on rows from before signing was required */
  metadata: unknown | null
  createdBy: string
  createdAt: string
}

/** One published root version, as stored and served. */
export interface StoredRoot {
  version: number
  /** the canonical wire bytes of the signed root, as UTF-8 text */
  document: string
  /** hex sha256 of `document`'s UTF-8 bytes */
  sha256: string
  createdAt: string
}

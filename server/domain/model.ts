/** Domain records shared by services and repositories. */
import type { Device } from './fleet/model.js'

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

/**
 * Who is calling: an API token with a role, or an enrolled device with its credential.
 * A device principal carries the device row authentication read, so that the poll does
 * not read it a second time.
 */
export type Principal = { kind: 'token'; tokenId: string; role: Role } | { kind: 'device'; deviceId: string; role: 'device'; device: Device }

export type PrincipalRole = Principal['role']

/** How a principal is named in records (createdBy, the audit log). */
export const actorOf = (p: Principal): string => (p.kind === 'token' ? `token:${p.tokenId}` : `device:${p.deviceId}`)

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

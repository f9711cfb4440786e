/** Domain records shared by services and repositories. */
import type { DeviceCertificate, DevicePollContext } from './fleet-model.js'

/** `viewer`: read-only (the console's watchers): reads everything an operator reads, acts on nothing. */
export const ROLES = ['admin', 'ci', 'operator', 'viewer'] as const
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
 * A device principal carries what authentication read in its one query (the device, what
 * it runs, its current assignment), so that the poll reads nothing more.
 */
export type Principal = { kind: 'token'; tokenId: string; role: Role } | DevicePrincipal

/** A device, as the one device-authentication decision (trust/device-auth-service.ts) found it. */
export interface DevicePrincipal {
  kind: 'device'
  deviceId: string
  role: 'device'
  device: DevicePollContext
  /** the certificate whose key proved possession; absent for a bearer credential (SLIPWAY_DEVICE_BEARER_COMPAT) */
  certificate?: DeviceCertificate
  /** how it proved it: mTLS here, a certificate forwarded by a trusted proxy, a message signature, or a bearer credential */
  via: 'mtls' | 'forwarded-certificate' | 'signature' | 'bearer'
}

export type PrincipalRole = Principal['role']

/** How a principal is named in records (createdBy, the audit log). */
export const actorOf = (p: Principal): string => (p.kind === 'token' ? `token:${p.tokenId}` : `device:${p.deviceId}`)

export const RELEASE_KINDS = ['os-image', 'model'] as const
export type ReleaseKind = (typeof RELEASE_KINDS)[number]

export interface Provenance {
  sourceRevision?: string
  builder?: string
  sbomDigest?: string
  /** SPDX licence expression (models) */
  license?: string
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

export const DELTA_STATES = ['queued', 'building', 'ready', 'too-large', 'failed'] as const
/**
 * queued → building → ready | too-large | failed. A transient failure goes back to
 * queued (the job retries with backoff); a failed delta is queued again only when
 * someone asks for it again.
 */
export type DeltaState = (typeof DELTA_STATES)[number]

/**
 * The same delta in another format (one patch per format per image pair): a builder that
 * diffs inside compressed members writes a format-2 patch beside the format-1 one every
 * applier takes; a device gets the smallest patch in a format its agent reports.
 */
export interface DeltaVariant {
  /** its offer format (acceptedDeltaFormats: `slipway-delta-v2+puff`); the signed metadata names the patch format */
  format: string
  patchSha256: string
  patchLength: number
  /** the delta metadata envelope signed by the online key, canonical wire text */
  metadata: string
  updatedAt: string
}

/** A patch from one release's image to another's (one row per release pair). */
export interface DeltaRecord {
  id: string
  fromReleaseId: string
  toReleaseId: string
  sourceSha256: string
  targetSha256: string
  /** the target image, bytes */
  targetLength: number
  state: DeltaState
  /** target bytes the running build has encoded so far */
  builtBytes: number
  patchSha256: string | null
  patchLength: number | null
  /** the full target image compressed (see DeltaService): the offer rule's yardstick */
  compressedTargetLength: number | null
  /** the signed delta metadata envelope, canonical wire text (set once built) */
  metadata: string | null
  errorCode: string | null
  errorMessage: string | null
  /** build tries so far */
  attempts: number
  buildMs: number | null
  createdAt: string
  updatedAt: string
  finishedAt: string | null
}

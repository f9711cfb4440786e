/** Kysely table types: the SQL shape of migrations/*.sql. */
export interface ApiTokensTable {
  id: string
  role: string
  label: string
  token_hash: string
  created_at: string
  expires_at: string | null
  revoked_at: string | null
}

export interface ReleasesTable {
  id: string
  name: string
  version: string
  kind: string
  sha256: string
  length: number
  security_version: number
  hardware: string
  provenance: string
  metadata: string | null
  created_by: string
  created_at: string
}

export interface TrustRootsTable {
  version: number
  document: string
  sha256: string
  created_at: string
}

export interface DeltasTable {
  id: string
  from_release_id: string
  to_release_id: string
  source_sha256: string
  target_sha256: string
  target_length: number
  state: string
  built_bytes: number
  patch_sha256: string | null
  patch_length: number | null
  compressed_target_length: number | null
  metadata: string | null
  error_code: string | null
  error_message: string | null
  attempts: number
  build_ms: number | null
  created_at: string
  updated_at: string
  finished_at: string | null
}

export interface Database {
  api_tokens: ApiTokensTable
  releases: ReleasesTable
  trust_roots: TrustRootsTable
  deltas: DeltasTable
}

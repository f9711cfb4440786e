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

export interface Database {
  api_tokens: ApiTokensTable
  releases: ReleasesTable
  trust_roots: TrustRootsTable
}

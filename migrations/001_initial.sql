-- Slipway schema, version 1. Plain SQL that runs unchanged on SQLite and PostgreSQL:
-- TEXT timestamps (ISO 8601, UTC, millisecond precision, so they sort as text),
-- JSON kept as TEXT, BIGINT for byte counts. Statements are separated by ";" at a line end.

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'ci', 'operator')),
  label TEXT NOT NULL,
  -- sha256 of the whole token; the token itself is never stored
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT
);

CREATE TABLE releases (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('os-image', 'model')),
  sha256 TEXT NOT NULL,
  length BIGINT NOT NULL,
  security_version INTEGER NOT NULL,
  -- JSON array of hardware type names
  hardware TEXT NOT NULL,
  -- JSON object: sourceRevision, builder, sbomDigest
  provenance TEXT NOT NULL,
  -- the CI-signed release metadata envelope, once the trust layer is on
  metadata TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (name, version)
);

CREATE INDEX releases_by_name ON releases (name, created_at);

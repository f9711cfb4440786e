-- Provenance policy per release name (issue 12 §5), version 12: which provenance fields
-- the CI-signed release metadata of a push must carry. A name without a row requires none.
-- Same plain SQL on SQLite and PostgreSQL; timestamps ISO 8601 TEXT.

CREATE TABLE release_policies (
  name TEXT PRIMARY KEY,
  -- JSON array of field names: sourceRevision, builder, sbomDigest, license
  required TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Deltas, version 3: one row per (from release, to release) patch, built by the
-- `build-delta` job (DESIGN.md "Payloads and deltas"). Same plain SQL on SQLite and
-- PostgreSQL; byte counts are BIGINT, timestamps ISO 8601 TEXT.

CREATE TABLE deltas (
  id TEXT PRIMARY KEY,
  from_release_id TEXT NOT NULL REFERENCES releases (id),
  to_release_id TEXT NOT NULL REFERENCES releases (id),
  -- the images' sha256: the build job and the patch are keyed on content, not on rows
  source_sha256 TEXT NOT NULL,
  target_sha256 TEXT NOT NULL,
  target_length BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'building', 'ready', 'too-large', 'failed')),
  -- target bytes the running build has encoded so far (progress)
  built_bytes BIGINT NOT NULL DEFAULT 0,
  patch_sha256 TEXT,
  patch_length BIGINT,
  -- the full target image, compressed: what the offer rule compares the patch with
  compressed_target_length BIGINT,
  -- the delta metadata envelope signed by the online key, canonical wire text
  metadata TEXT,
  error_code TEXT,
  error_message TEXT,
  -- build tries so far, over every request
  attempts INTEGER NOT NULL DEFAULT 0,
  build_ms BIGINT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  UNIQUE (from_release_id, to_release_id)
);

CREATE INDEX deltas_by_content ON deltas (source_sha256, target_sha256);

CREATE INDEX deltas_by_target ON deltas (to_release_id, created_at);

CREATE INDEX deltas_by_state ON deltas (state, created_at);

-- Delta variants, version 14: one patch per format per image pair (issue 15). A pair's
-- row in `deltas` holds the patch every applier takes (format 1), and a builder that diffs
-- inside compressed members (format 2) stores that patch here as well, and a device gets
-- the smallest patch in a format its agent reports. Keyed on content, like the build job:
-- every release pair with the same two images shares them. Same SQL on SQLite and PostgreSQL.

CREATE TABLE delta_variants (
  source_sha256 TEXT NOT NULL,
  target_sha256 TEXT NOT NULL,
  -- its offer format (what a device's poll header must accept): slipway-delta-v2+puff,
  -- its signed metadata names the patch format, slipway-delta-v2
  format TEXT NOT NULL,
  patch_sha256 TEXT NOT NULL,
  patch_length BIGINT NOT NULL,
  -- the delta metadata envelope signed by the online key for this patch, canonical wire text
  metadata TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source_sha256, target_sha256, format)
);

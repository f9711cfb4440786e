-- Console and device management, version 9 (issue 13). Same plain SQL on SQLite and
-- PostgreSQL.

-- When the device last called at all (poll or report). Polls write it at most once a
-- minute per device (the poll path stays read-only the rest of the time).
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;

CREATE INDEX devices_by_last_seen ON devices (last_seen_at);

-- Dynamic groups: a saved selector over inventory fields (hardware, group, tags) that a
-- rollout can target by name; membership is computed, never stored.
CREATE TABLE device_groups (
  name TEXT PRIMARY KEY,
  -- JSON: { hardware?, group?, tags? }
  selector TEXT NOT NULL,
  description TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Rollout ids handed out by a dry run, so that the real rollout gets the same id and
-- with it the same cohorts (cohort = hash(rollout id, device id)).
CREATE TABLE rollout_reservations (
  id TEXT PRIMARY KEY,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);

CREATE INDEX device_reports_by_device ON device_reports (device_id, received_at);

-- The console's timelines: one rollout's or one device's audit entries.
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

-- A read-only role for people who watch (the console): sees everything, acts on
-- nothing. SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE api_tokens_v9 (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'ci', 'operator', 'viewer')),
  label TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT
);

INSERT INTO api_tokens_v9 (id, role, label, token_hash, created_at, expires_at, revoked_at)
  SELECT id, role, label, token_hash, created_at, expires_at, revoked_at FROM api_tokens;

DROP TABLE api_tokens;

ALTER TABLE api_tokens_v9 RENAME TO api_tokens;

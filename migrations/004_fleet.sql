-- Fleet, version 4: devices, enrollment tokens, rollouts, assignments, device reports and
-- the audit log (DESIGN.md "Rollouts"). Same plain SQL on SQLite and PostgreSQL.

CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY,
  -- sha256 of the token; the token itself is shown once and never stored
  token_hash TEXT NOT NULL UNIQUE,
  group_name TEXT NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  hardware_id TEXT NOT NULL UNIQUE,
  hardware TEXT NOT NULL,
  group_name TEXT NOT NULL,
  -- JSON array of tag strings
  tags TEXT NOT NULL,
  -- sha256 of the device credential (rotated on re-enrollment)
  credential_hash TEXT NOT NULL UNIQUE,
  -- JSON array: a copy of this device's device_installed rows, kept in the same
  -- transaction, so that the poll reads device, installed set and assignment in one query
  installed TEXT NOT NULL,
  -- newest applied report sequence number; older reports never overwrite newer state
  last_seq INTEGER NOT NULL,
  last_state TEXT,
  -- set by reports (events, health), never by polls: the poll path does not write
  last_report_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE INDEX devices_by_group ON devices (group_name);
CREATE INDEX devices_by_hardware ON devices (hardware);

-- What each device runs, one row per release name (an OS image and a model, say).
CREATE TABLE device_installed (
  device_id TEXT NOT NULL REFERENCES devices (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  security_version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (device_id, name)
);

CREATE INDEX device_installed_by_version ON device_installed (name, version);

CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  release_id TEXT NOT NULL REFERENCES releases (id),
  -- JSON: { hardware?, group?, tags? }
  selector TEXT NOT NULL,
  -- JSON array of { percent, minDevices, soakSeconds }
  phases TEXT NOT NULL,
  -- JSON: { maxFailureRate, minSample, confidence, maxFailures?, silentAfterSeconds, metrics? }
  gate TEXT NOT NULL,
  breach_action TEXT NOT NULL CHECK (breach_action IN ('pause', 'rollback')),
  state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'paused', 'completed', 'aborted', 'rolled_back')),
  -- index into phases while running or paused
  phase INTEGER NOT NULL,
  phase_started_at TEXT,
  state_reason TEXT,
  -- optimistic lock: every transition is UPDATE … WHERE version = the version read
  version INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE INDEX rollouts_by_state ON rollouts (state, created_at);

-- A device joins a rollout when it is first assigned its release (not before:
-- cohorts are computed, not stored).
CREATE TABLE rollout_devices (
  rollout_id TEXT NOT NULL REFERENCES rollouts (id),
  device_id TEXT NOT NULL REFERENCES devices (id),
  -- the phase in which it was first assigned
  phase INTEGER NOT NULL,
  -- what it ran before, for a fleet rollback (null: nothing of that name)
  previous_version TEXT,
  previous_sha256 TEXT,
  previous_security_version INTEGER,
  state TEXT NOT NULL,
  state_seq INTEGER NOT NULL,
  -- JSON { code, message } of the last failure
  reason TEXT,
  -- last health report: 1 ok, 0 failed (boot, a check or a metric bound), null none yet
  health_ok INTEGER,
  -- JSON object of the last reported metrics
  metrics TEXT,
  -- 1 once it reported the previous release back after a fleet rollback
  reverted INTEGER NOT NULL,
  assigned_at TEXT NOT NULL,
  reported_at TEXT,
  PRIMARY KEY (rollout_id, device_id)
);

CREATE INDEX rollout_devices_by_device ON rollout_devices (device_id);

-- The current signed assignment of each device, served as is until the server's
-- decision changes (then counter + 1).
CREATE TABLE device_assignments (
  device_id TEXT PRIMARY KEY REFERENCES devices (id),
  counter INTEGER NOT NULL,
  rollout_id TEXT NOT NULL,
  release_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('install', 'rollback')),
  -- the JSON response body of the poll, with the signed envelopes
  body TEXT NOT NULL,
  etag TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- Every report as received; (device, event id) makes reports idempotent.
CREATE TABLE device_reports (
  device_id TEXT NOT NULL REFERENCES devices (id),
  report_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('event', 'health')),
  rollout_id TEXT,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (device_id, report_id)
);

-- Last health metrics per device and release, the baseline of relative metric bounds.
CREATE TABLE device_health (
  device_id TEXT NOT NULL REFERENCES devices (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  metrics TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (device_id, name)
);

CREATE INDEX device_health_by_version ON device_health (name, version);

-- Append-only, hash-chained: hash = sha256(prev_hash || canonical JSON of the entry).
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  reason TEXT,
  before_state TEXT,
  after_state TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);

-- Device trust boundary, version 6 (issue 10 §3-4): downloads only of what a device is
-- assigned, a per-device download ledger for the exfiltration budget, quarantine and
-- decommission. Same plain SQL on SQLite and PostgreSQL.

-- Quarantine: the device is refused on every route (403 DEVICE_QUARANTINED) until an
-- operator releases it; it then has to re-enroll (its credential was revoked).
ALTER TABLE devices ADD COLUMN quarantined_at TEXT;
ALTER TABLE devices ADD COLUMN quarantine_reason TEXT;
-- Decommission: the identity is gone (credential revoked, hardware id freed for a new
-- enrollment), the row stays so that reports, rollout history and the audit log keep
-- pointing at something.
ALTER TABLE devices ADD COLUMN decommissioned_at TEXT;

-- A withdrawn assignment is never served again nor names a downloadable blob; the row
-- stays so that the next assignment continues the device's counter (anti-replay).
ALTER TABLE device_assignments ADD COLUMN withdrawn_at TEXT;

-- A withdrawn member (quarantined or decommissioned device) counts neither as failed
-- nor as healthy in its rollout's gate.
ALTER TABLE rollout_devices ADD COLUMN withdrawn_at TEXT;

-- The blobs the device's previous assignment named: a device may finish downloading
-- what it was told to fetch one assignment ago (the current one is in device_assignments).
CREATE TABLE device_previous_blobs (
  device_id TEXT NOT NULL REFERENCES devices (id),
  sha256 TEXT NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (device_id, sha256)
);

-- Every device download (GET of a blob, or the presigned redirect to it), in bytes;
-- summed over a sliding window per device and blob. A row is written before the bytes
-- go out (so concurrent requests see each other) and corrected to what was sent.
CREATE TABLE device_downloads (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id),
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  at TEXT NOT NULL
);

CREATE INDEX device_downloads_by_blob ON device_downloads (device_id, sha256, at);

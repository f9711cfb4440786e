-- Device checklist, version 8 (issue 12): how each installed release got onto the device.
-- Same plain SQL on SQLite and PostgreSQL.

-- 'full' | 'delta' | 'slot-switch' as the device reported it with `succeeded`
-- (null: enrolled with it, or reported by an agent that does not say)
ALTER TABLE device_installed ADD COLUMN install_mode TEXT;

-- How far each device's current download got (its latest `downloading` event with progress).
CREATE TABLE device_progress (
  device_id TEXT PRIMARY KEY REFERENCES devices (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  total BIGINT NOT NULL,
  at TEXT NOT NULL
);

-- What a device refused or found that is not an install outcome (a replayed assignment, say):
-- never counted against a rollout. Idempotent by (device, report id); each one is also audited.
CREATE TABLE device_security_events (
  device_id TEXT NOT NULL REFERENCES devices (id),
  report_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  code TEXT NOT NULL,
  -- the report as received (JSON)
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (device_id, report_id)
);

CREATE INDEX device_security_events_by_kind ON device_security_events (kind, received_at);

-- Fleet inventory and integrity checks, version 11 (issue 12 §3-4). Same plain SQL on
-- SQLite and PostgreSQL.

-- What the device last reported about itself (one row per device). The searchable facts
-- have columns of their own; `body` is the whole report as received (without the
-- package list). `digest` is the server's own digest of the facts (free space left out),
-- so a report that only moves free space changes nothing but this row.
CREATE TABLE device_inventory (
  device_id TEXT PRIMARY KEY REFERENCES devices (id),
  digest TEXT NOT NULL,
  os TEXT,
  kernel TEXT,
  agent_version TEXT,
  bootloader TEXT,
  -- 1 or 0 (null: not said)
  tpm INTEGER,
  -- the package-list digest the device reported, and the one whose list device_packages holds
  packages_digest TEXT,
  packages_list_digest TEXT,
  body TEXT NOT NULL,
  reported_at TEXT NOT NULL,
  changed_at TEXT NOT NULL
);

CREATE INDEX device_inventory_by_kernel ON device_inventory (kernel);
CREATE INDEX device_inventory_by_os ON device_inventory (os);
CREATE INDEX device_inventory_by_agent ON device_inventory (agent_version);

-- One row per change of a device's inventory digest (reports that change nothing add none).
CREATE TABLE device_inventory_history (
  device_id TEXT NOT NULL REFERENCES devices (id),
  digest TEXT NOT NULL,
  body TEXT NOT NULL,
  changed_at TEXT NOT NULL,
  PRIMARY KEY (device_id, changed_at, digest)
);

-- The live models of the latest inventory, for ?inventory.model= and selectors.
CREATE TABLE device_inventory_models (
  device_id TEXT NOT NULL REFERENCES devices (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (device_id, name)
);

CREATE INDEX device_inventory_models_by_name ON device_inventory_models (name, version);

-- The installed Debian packages of the latest list a device sent (dpkg-query), replaced whole.
CREATE TABLE device_packages (
  device_id TEXT NOT NULL REFERENCES devices (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (device_id, name, version)
);

CREATE INDEX device_packages_by_name ON device_packages (name, device_id);

-- The integrity flag: one row per device and finding ('drift' or 'timeout'), kept until
-- an operator clears it. `release_known`: the release the report names exists and has
-- the sha256 the device claims (0: an unknown release; stored, flagged, never trusted).
CREATE TABLE device_integrity (
  device_id TEXT NOT NULL REFERENCES devices (id),
  state TEXT NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  reports INTEGER NOT NULL,
  release_known INTEGER NOT NULL,
  -- the newest report of this finding (JSON)
  last_report TEXT NOT NULL,
  PRIMARY KEY (device_id, state)
);

CREATE INDEX device_integrity_by_state ON device_integrity (state, device_id);

-- The selector facts of the latest inventory (JSON: os, kernel, agentVersion, bootloader,
-- tpm, models), read with the device row so that the poll matches rollout selectors on
-- inventory fields without another query (like devices.installed).
ALTER TABLE devices ADD COLUMN inventory TEXT;

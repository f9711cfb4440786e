-- Device checklist, version 8 (issue 12): how each installed release got onto the device.
-- Same plain SQL on SQLite and PostgreSQL.

-- 'full' | 'delta' | 'slot-switch' as the device reported it with `succeeded`
-- (null: enrolled with it, or reported by an agent that does not say)
ALTER TABLE device_installed ADD COLUMN install_mode TEXT;

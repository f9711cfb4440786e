-- Version 7: health reports are ordered by their seq like events (issue 11): a late,
-- older health report must not overwrite a newer one. NULL: none since this migration.

ALTER TABLE rollout_devices ADD COLUMN health_seq INTEGER;

ALTER TABLE device_health ADD COLUMN seq INTEGER;

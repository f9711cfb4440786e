-- Uploads straight to S3 multipart (scale-out, no shared folder), version 10. The
-- ledger of each tus upload: its S3 multipart upload id and every part's ETag, so a
-- PATCH on any replica resumes it and completes it without S3's ListParts. Bytes that
-- do not yet fill a part (S3 parts are at least 5 MiB) wait in a small "tail" object.
-- Same plain SQL on SQLite and PostgreSQL; byte counts BIGINT, timestamps ISO 8601 TEXT.

CREATE TABLE multipart_uploads (
  id TEXT PRIMARY KEY,
  object_key TEXT NOT NULL,
  s3_upload_id TEXT NOT NULL,
  -- declared total length; NULL while the client defers it
  size BIGINT,
  part_size BIGINT NOT NULL,
  -- bytes held in completed parts, and in the tail object after them
  parts_length BIGINT NOT NULL DEFAULT 0,
  tail_length BIGINT NOT NULL DEFAULT 0,
  -- tus Upload-Metadata, JSON
  metadata TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- set once CompleteMultipartUpload made the object whole
  completed_at TEXT
);

CREATE INDEX multipart_uploads_created ON multipart_uploads (created_at);

CREATE TABLE multipart_upload_parts (
  upload_id TEXT NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
  part_number INTEGER NOT NULL,
  etag TEXT NOT NULL,
  length BIGINT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);

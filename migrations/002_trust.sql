-- Trust, version 2: the published root chain (TUF root metadata, DESIGN.md "Trust
-- model"). Devices walk it forward from the root they were provisioned with, so
-- every version is kept, in order, exactly as signed. Same plain SQL on SQLite and
-- PostgreSQL.

CREATE TABLE trust_roots (
  -- root version: 1, 2, 3… with no gaps (the ceremony checks N+1)
  version INTEGER PRIMARY KEY,
  -- the canonical wire bytes (UTF-8 JSON) served verbatim at /v1/trust/root/{version}.json
  document TEXT NOT NULL,
  -- hex sha256 of those bytes, to detect a document altered in the database
  sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL
);

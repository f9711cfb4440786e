-- Device identity, version 13 (numbered after 012: a migration older than the newest applied one is refused by the migrator, so it cannot keep the number 5 it was drafted under): key-bound device certificates (issue 10 "Key-bound identity",
-- "No takeover"). A device proves possession of the key of an active certificate on every
-- request; revocation is a row update read on every request, so it holds at once on every
-- replica. Same plain SQL on SQLite and PostgreSQL.

CREATE TABLE device_certificates (
  -- lowercase hex without leading zeros, as in X509Certificate.serialNumber and the CRL
  serial TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id),
  -- active: authenticates the device; pending: a re-enrollment claim awaiting proof or an
  -- operator's approval (polls get nothing, reports are refused); revoked: refused everywhere
  state TEXT NOT NULL CHECK (state IN ('active', 'pending', 'revoked')),
  key_type TEXT NOT NULL CHECK (key_type IN ('ecdsa', 'ed25519')),
  -- SubjectPublicKeyInfo DER, base64: message signatures are verified with it
  public_key TEXT NOT NULL,
  -- 1 when a key attestation proved the key lives in a TPM
  key_tpm_resident INTEGER NOT NULL,
  certificate TEXT NOT NULL,
  -- JSON { hardware, tags, installed } a pending claimant enrolled with, applied on approval
  claim TEXT,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  revoked_at TEXT,
  revocation_reason TEXT
);

CREATE INDEX device_certificates_by_device ON device_certificates (device_id, state);
CREATE INDEX device_certificates_revoked ON device_certificates (revoked_at);

-- whether the key of the device's active certificate is TPM-resident (shown to operators)
ALTER TABLE devices ADD COLUMN key_tpm_resident INTEGER NOT NULL DEFAULT 0;

-- The device CA certificate, created with its key on the first start and shared by all
-- replicas (the key is a file in the shared keys folder or a PKCS#11 token key).
CREATE TABLE device_ca (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  certificate TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- per-token policy: 1 refuses devices whose key is not proven TPM-resident
ALTER TABLE enrollment_tokens ADD COLUMN require_tpm INTEGER NOT NULL DEFAULT 0;

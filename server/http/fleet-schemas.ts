/** Wire schemas (TypeBox) of the device API and the fleet / rollout operator API. */
import { Type } from 'typebox'
import { IntegrityDetails, InventorySelectorSchema } from './inventory-schemas.js'

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' })
const Name = Type.String({ minLength: 1, maxLength: 128 })
const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/-]+$' })
const Uuidish = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' })

export const Installed = Type.Object(
  { name: Name, version: Name, sha256: Sha256, securityVersion: Type.Integer({ minimum: 0, maximum: 2147483647, default: 0 }) },
  { additionalProperties: false },
)

export const EnrollBody = Type.Object(
  {
    enrollmentToken: Type.String({ minLength: 1, maxLength: 256 }),
    hardwareId: Type.String({ minLength: 1, maxLength: 128 }),
    hardware: Name,
    tags: Type.Array(Tag, { maxItems: 64, default: [] }),
    installed: Type.Array(Installed, { maxItems: 16, default: [] }),
    csr: Type.Optional(Type.String({ minLength: 1, maxLength: 16384, description: 'PEM PKCS#10 request, subject CN = hardwareId, signed with the new device key (ECDSA P-256 or Ed25519)' })),
    attestation: Type.Optional(Type.Unknown({ description: 'key attestation (TPM2_Certify), checked by the configured verifier' })),
  },
  { additionalProperties: false },
)

/** Round 1 of a TPM key attestation (DEVICE-API.md "TPM key attestation") */
export const AttestationChallengeBody = Type.Object(
  {
    enrollmentToken: Type.String({ minLength: 1, maxLength: 256 }),
    ekCertificate: Type.String({ minLength: 1, maxLength: 8192, description: 'the TPM\'s EK certificate, DER base64 (NV index 0x01c00002)' }),
    akPublic: Type.String({ minLength: 1, maxLength: 1024, description: 'the attestation key\'s TPMT_PUBLIC, base64' }),
  },
  { additionalProperties: false },
)

export const AttestationChallengeReply = Type.Object({
  challenge: Type.String({ description: 'sealed by the server; sent back with the attestation' }),
  credentialBlob: Type.String({ description: 'TPM2_MakeCredential credential blob, base64' }),
  encryptedSecret: Type.String({ description: 'the seed encrypted to the EK, base64' }),
})

const CertificateFields = {
  deviceId: Type.String(),
  group: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('pending')], { description: 'pending: a re-enrollment claim without proof of the current key; it reaches nothing until an operator approves it' }),
  certificate: Type.String({ description: 'PEM device certificate' }),
  serial: Type.String({ description: 'certificate serial, lowercase hex: the keyid of message signatures' }),
  notAfter: Type.String(),
  caCertificate: Type.String({ description: 'PEM device CA certificate' }),
  keyTpmResident: Type.Boolean(),
}

/** Key-bound enrollment answers with a certificate; bearer enrollment (SLIPWAY_DEVICE_BEARER_COMPAT) with a credential. */
export const EnrollReply = Type.Union([
  Type.Object({ ...CertificateFields, pollIntervalSeconds: Type.Integer() }),
  Type.Object({ deviceId: Type.String(), credential: Type.String(), group: Type.String(), pollIntervalSeconds: Type.Integer() }),
])

export const RenewBody = Type.Object(
  {
    csr: Type.String({ minLength: 1, maxLength: 16384, description: 'PEM PKCS#10 request, subject CN = device id (same or new key)' }),
    attestation: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
)

export const CertificateReply = Type.Object(CertificateFields)

export const DeviceCertificateView = Type.Object({
  serial: Type.String(),
  deviceId: Type.String(),
  state: Type.String(),
  keyType: Type.String(),
  keyTpmResident: Type.Boolean(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  issuedAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  revocationReason: Type.Union([Type.String(), Type.Null()]),
  claim: Type.Union([Type.Unknown(), Type.Null()]),
})

/**
 * The device's report counter. Stored in INTEGER columns, 32-bit on PostgreSQL (64 on
 * SQLite): the bound makes both databases answer every value the same way (issue 11).
 */
const Seq = Type.Integer({ minimum: 0, maximum: 2147483647, description: 'report sequence number, at most 2^31 - 1' })
export const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false })
export const ApproveBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1000 }), serial: Type.Optional(Type.String({ pattern: '^[0-9a-f]{1,40}$', description: 'the pending certificate; default: the newest claim' })) },
  { additionalProperties: false },
)

const ReleaseRef = Type.Object({ name: Name, version: Name }, { additionalProperties: false })
const At = Type.String({ maxLength: 40 })

export const DeviceEvent = Type.Object(
  {
    id: Uuidish,
    seq: Seq,
    rolloutId: Type.Optional(Uuidish),
    release: ReleaseRef,
    state: Type.Union(['downloading', 'installing', 'rebooting', 'health-checking', 'succeeded', 'failed', 'rolled-back'].map((s) => Type.Literal(s))),
    mode: Type.Optional(Type.Union([Type.Literal('full'), Type.Literal('delta'), Type.Literal('slot-switch')])),
    progress: Type.Optional(
      Type.Object({ bytes: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), total: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false }),
    ),
    reason: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 4096 }) }, { additionalProperties: false })),
    at: Type.Optional(At),
  },
  { additionalProperties: false },
)

export const EventsBody = Type.Object({ events: Type.Array(DeviceEvent, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false })

export const SecurityEventBody = Type.Object(
  {
    id: Uuidish,
    seq: Seq,
    kind: Type.Union([Type.Literal('offer-refused'), Type.Literal('integrity'), Type.Literal('integrity-timeout')]),
    reason: Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 4096 }) }, { additionalProperties: false }),
    integrity: Type.Optional(IntegrityDetails),
    claimed: Type.Optional(
      Type.Object(
        { rolloutId: Type.Optional(Type.String({ maxLength: 64 })), release: Type.Optional(ReleaseRef), counter: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })) },
        { additionalProperties: false },
      ),
    ),
    at: Type.Optional(At),
  },
  { additionalProperties: false },
)

export const HealthBody = Type.Object(
  {
    id: Uuidish,
    seq: Seq,
    rolloutId: Type.Optional(Uuidish),
    release: ReleaseRef,
    bootOk: Type.Boolean(),
    checks: Type.Array(
      Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), ok: Type.Boolean(), output: Type.Optional(Type.String({ maxLength: 8192 })) }, { additionalProperties: false }),
      { maxItems: 64, default: [] },
    ),
    metrics: Type.Record(Type.String({ maxLength: 64 }), Type.Number(), { default: {} }),
    at: Type.Optional(At),
  },
  { additionalProperties: false },
)

export const Phase = Type.Object(
  {
    percent: Type.Number({ description: '(0, 100], cumulative, strictly increasing' }),
    minDevices: Type.Integer({ minimum: 0, default: 0 }),
    soakSeconds: Type.Number({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

export const Gate = Type.Object(
  {
    maxFailureRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    minSample: Type.Optional(Type.Integer({ minimum: 1 })),
    confidence: Type.Optional(Type.Number()),
    maxFailures: Type.Optional(Type.Integer({ minimum: 1 })),
    silentAfterSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    metrics: Type.Optional(
      Type.Array(
        Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }), max: Type.Optional(Type.Number()), maxRatioToPrevious: Type.Optional(Type.Number()) },
          { additionalProperties: false },
        ),
        { maxItems: 16 },
      ),
    ),
  },
  { additionalProperties: false },
)

export const RolloutBody = Type.Object(
  {
    release: Type.String({ minLength: 1, maxLength: 260, description: 'release id or name@version' }),
    selector: Type.Optional(
      Type.Object(
        {
          hardware: Type.Optional(Name),
          group: Type.Optional(Name),
          tags: Type.Optional(Type.Array(Tag, { maxItems: 32 })),
          savedGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'a dynamic group (saved selector); its fields are copied into the rollout' })),
          inventory: Type.Optional(InventorySelectorSchema),
        },
        { additionalProperties: false },
      ),
    ),
    phases: Type.Array(Phase, { minItems: 1, maxItems: 20 }),
    gate: Type.Optional(Gate),
    gatePreset: Type.Optional(
      Type.Union([Type.Literal('standard'), Type.Literal('strict'), Type.Literal('small-canary')], { description: 'named gate values (README "Gate presets"); gate fields override them' }),
    ),
    id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'the rollout id a dry run reserved (its counts then hold for this rollout)' })),
    allowEmpty: Type.Optional(Type.Boolean({ description: 'create even if the selector matches no device now (else ROLLOUT_SELECTS_NO_DEVICE)' })),
    breachAction: Type.Optional(Type.Union([Type.Literal('pause'), Type.Literal('rollback')])),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    dryRun: Type.Optional(Type.Boolean()),
    start: Type.Optional(Type.Boolean({ description: 'start at once (else it stays a draft)' })),
  },
  { additionalProperties: false },
)

export const ActionBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false })

export const EnrollmentTokenBody = Type.Object(
  {
    group: Name,
    maxUses: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    ttlSeconds: Type.Integer({ minimum: 60, maximum: 366 * 24 * 3600 }),
    requireTpm: Type.Optional(Type.Boolean({ description: 'refuse devices whose key is not proven TPM-resident' })),
  },
  { additionalProperties: false },
)

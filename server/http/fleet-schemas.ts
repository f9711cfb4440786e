/** Wire schemas (TypeBox) of the fleet / rollout operator API (the device API's are in client-sdk/src/wire). */
import { Type } from 'typebox'
import { InventorySelectorSchema } from './inventory-schemas.js'

const Name = Type.String({ minLength: 1, maxLength: 128 })
const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/-]+$' })

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

export const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false })
export const ApproveBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1000 }), serial: Type.Optional(Type.String({ pattern: '^[0-9a-f]{1,40}$', description: 'the pending certificate; default: the newest claim' })) },
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

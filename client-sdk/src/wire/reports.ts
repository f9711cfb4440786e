/**
 * What a device reports (DEVICE-API.md "Events", "Health", "Security events"): state
 * events (idempotent by id, ordered by seq), health after a reboot, and what it refused
 * or found. Requests refuse unknown fields; the answers allow new ones.
 */
import { At, Bytes, Int32, Name, ReleaseRef, Reason, Seq, Sha256, Uuidish } from './common.js'
import { DeviceStateSchema, InstallModeSchema } from './states.js'
import type { FromSchema, Received } from './schema.js'

export const DeviceEventSchema = {
  type: 'object',
  properties: {
    id: Uuidish,
    seq: Seq,
    rolloutId: Uuidish,
    release: ReleaseRef,
    state: DeviceStateSchema,
    mode: { ...InstallModeSchema, description: 'how the release got into its slot (issue 12 §2)' },
    progress: {
      type: 'object',
      properties: { bytes: Bytes, total: Bytes },
      required: ['bytes', 'total'],
      additionalProperties: false,
      description: 'on downloading: bytes of the payload (patch or image) received so far',
    },
    reason: Reason,
    at: At,
  },
  required: ['id', 'seq', 'release', 'state'],
  additionalProperties: false,
} as const
export type DeviceEvent = FromSchema<typeof DeviceEventSchema>

export const EventsRequestSchema = {
  type: 'object',
  properties: { events: { type: 'array', items: DeviceEventSchema, minItems: 1, maxItems: 100 } },
  required: ['events'],
  additionalProperties: false,
} as const

export const EventsReplySchema = {
  type: 'object',
  properties: { accepted: { type: 'integer' }, duplicates: { type: 'integer' }, stale: { type: 'integer' } },
  required: ['accepted', 'duplicates', 'stale'],
} as const
export type EventsReply = FromSchema<typeof EventsReplySchema>

/** What an integrity check found (issue 12 §4); the release and sha256 are the device's claim. */
export const IntegrityFindingSchema = {
  type: 'object',
  properties: {
    target: { type: 'string', enum: ['os', 'model'], description: 'the active OS slot or a live model' },
    release: ReleaseRef,
    sha256: { ...Sha256, description: 'the signed sha256 hashed against' },
    actual: { ...Sha256, description: 'what it hashed to (drift only)' },
    firstDifferingMiB: {
      anyOf: [{ type: 'integer', minimum: 0, maximum: 2 ** 40 }, { type: 'null' }],
      description: 'the first 1 MiB region whose hash differs from the one recorded when the content was last found intact (null: none recorded)',
    },
    checkedBytes: Bytes,
    elapsedMs: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
  required: ['target', 'release', 'sha256', 'checkedBytes', 'elapsedMs'],
  additionalProperties: false,
} as const
export type IntegrityFinding = FromSchema<typeof IntegrityFindingSchema>

/** A refused offer (issue 12 §6) or an integrity finding (§4): audited and kept, never a rollout outcome. */
export const SecurityEventSchema = {
  type: 'object',
  properties: {
    id: Uuidish,
    seq: Seq,
    kind: { type: 'string', enum: ['offer-refused', 'integrity', 'integrity-timeout'] },
    reason: Reason,
    integrity: IntegrityFindingSchema,
    claimed: {
      type: 'object',
      properties: { rolloutId: { type: 'string', maxLength: 64 }, release: ReleaseRef, counter: Int32 },
      additionalProperties: false,
      description: 'what the refused documents claimed, unverified (for the operator, never acted on)',
    },
    at: At,
  },
  required: ['id', 'seq', 'kind', 'reason'],
  additionalProperties: false,
} as const
export type SecurityEvent = FromSchema<typeof SecurityEventSchema>

export const SecurityReplySchema = {
  type: 'object',
  properties: { accepted: { type: 'boolean' } },
  required: ['accepted'],
  additionalProperties: true,
} as const

export const HealthReportSchema = {
  type: 'object',
  properties: {
    id: Uuidish,
    seq: Seq,
    rolloutId: Uuidish,
    release: ReleaseRef,
    bootOk: { type: 'boolean' },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: Name, ok: { type: 'boolean' }, output: { type: 'string', maxLength: 8192 } },
        required: ['name', 'ok'],
        additionalProperties: false,
      },
      maxItems: 64,
      default: [],
    },
    metrics: { type: 'object', additionalProperties: { type: 'number' }, default: {} },
    at: At,
  },
  required: ['id', 'seq', 'release', 'bootOk'],
  additionalProperties: false,
} as const
/** As the agent sends it; the server sees `Received<typeof HealthReportSchema>` (checks and metrics filled in). */
export type HealthReport = FromSchema<typeof HealthReportSchema>

export const HealthReplySchema = {
  type: 'object',
  properties: { accepted: { type: 'boolean' }, ok: { type: 'boolean' }, failed: { type: 'array', items: { type: 'string' } } },
  required: ['accepted', 'ok', 'failed'],
} as const
export type HealthReply = FromSchema<typeof HealthReplySchema>

export type ReceivedHealthReport = Received<typeof HealthReportSchema>

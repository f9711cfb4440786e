/** Building blocks shared by the device contract's schemas. */

export const Sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const
export const Name = { type: 'string', minLength: 1, maxLength: 128 } as const
export const Tag = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/-]+$' } as const
/** a report id, or a rollout id as a device names it */
export const Uuidish = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' } as const
/** the device's clock, ISO 8601 (informative: the server keeps its own time) */
export const At = { type: 'string', maxLength: 40 } as const
/** 32-bit: stored in INTEGER columns, 32-bit on PostgreSQL (issue 11) */
export const Int32 = { type: 'integer', minimum: 0, maximum: 2147483647 } as const
export const Bytes = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const

/** The device's report counter, at most 2^31 - 1 (both databases answer every value the same way). */
export const Seq = { ...Int32, description: 'report sequence number, at most 2^31 - 1' } as const

export const ReleaseRef = {
  type: 'object',
  properties: { name: Name, version: Name },
  required: ['name', 'version'],
  additionalProperties: false,
} as const

export const Reason = {
  type: 'object',
  properties: { code: { type: 'string', maxLength: 64 }, message: { type: 'string', maxLength: 4096 } },
  required: ['code', 'message'],
  additionalProperties: false,
} as const

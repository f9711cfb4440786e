/** Wire schemas (TypeBox) for the management and CI APIs; the OpenAPI docs come from these. */
import { Type, type Static } from 'typebox'

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable machine-readable code' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorBody' },
)

/** All error statuses a route can answer, with the one error body shape. */
export const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorBody')])) as Record<number, ReturnType<typeof Type.Ref>>

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'lowercase hex sha256' })

export const Provenance = Type.Object(
  {
    sourceRevision: Type.Optional(Type.String({ maxLength: 200 })),
    builder: Type.Optional(Type.String({ maxLength: 200 })),
    sbomDigest: Type.Optional(Type.String({ maxLength: 200 })),
    license: Type.Optional(Type.String({ maxLength: 256, description: 'SPDX licence expression (models)' })),
  },
  { additionalProperties: false },
)

export const ReleaseInput = Type.Object(
  {
    uploadId: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'id of a finished tus upload' }),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    version: Type.String({ minLength: 1, maxLength: 128, description: 'SemVer 2.0.0' }),
    kind: Type.Union([Type.Literal('os-image'), Type.Literal('model')]),
    hardware: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 64 }),
    sha256: Sha256,
    length: Type.Integer({ minimum: 0 }),
    securityVersion: Type.Integer({ minimum: 0, maximum: 2147483647 }),
    provenance: Type.Optional(Provenance),
    // optional in the schema so that a push without it gets its own code (RELEASE_METADATA_REQUIRED), not a generic 400
    metadata: Type.Optional(Type.Unknown({ description: 'required: the CI-signed release metadata envelope (TUF targets document) for exactly these fields, as JSON (`slipway release sign`)' })),
  },
  { additionalProperties: false },
)
export type ReleaseInputBody = Static<typeof ReleaseInput>

/** What `slipway push` knows before it hashes or sends a byte; see ReleaseService.preflight. */
export const ReleasePreflight = Type.Object(
  {
    ...Type.Omit(ReleaseInput, ['uploadId', 'sha256']).properties,
    sha256: Type.Optional(Sha256),
    keyIds: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9a-f]{64}$' }), { maxItems: 32, description: 'keyids that will sign the metadata, when it is not signed yet' })),
  },
  { additionalProperties: false },
)

export const Release = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.String(),
  kind: Type.String(),
  hardware: Type.Array(Type.String()),
  sha256: Sha256,
  length: Type.Integer(),
  securityVersion: Type.Integer(),
  provenance: Provenance,
  metadata: Type.Union([Type.Unknown(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String(),
})

export const TokenInput = Type.Object(
  {
    role: Type.Union([Type.Literal('admin'), Type.Literal('ci'), Type.Literal('operator'), Type.Literal('viewer')]),
    label: Type.String({ minLength: 1, maxLength: 200 }),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 24 * 3600 })),
  },
  { additionalProperties: false },
)

export const TokenInfo = Type.Object({
  id: Type.String(),
  role: Type.String(),
  label: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
})

const ReleaseRef = Type.String({ minLength: 1, maxLength: 300, description: 'a release id, or name@version' })

export const DeltaInput = Type.Object({ from: ReleaseRef, to: ReleaseRef }, { additionalProperties: false })

export const DeltaStateSchema = Type.Union(
  [Type.Literal('queued'), Type.Literal('building'), Type.Literal('ready'), Type.Literal('too-large'), Type.Literal('failed')],
  { description: 'queued → building → ready | too-large | failed; a transient failure goes back to queued until its retries run out' },
)

export const Delta = Type.Object({
  id: Type.String(),
  from: Type.String({ description: 'source release id' }),
  to: Type.String({ description: 'target release id' }),
  sourceSha256: Sha256,
  targetSha256: Sha256,
  targetLength: Type.Integer(),
  state: DeltaStateSchema,
  progress: Type.Number({ minimum: 0, maximum: 1, description: 'share of the target encoded by the running (or finished) build' }),
  attempts: Type.Integer({ description: 'build tries so far' }),
  patchSha256: Type.Union([Sha256, Type.Null()], { description: 'download through GET /v1/blobs/{patchSha256} (ready deltas)' }),
  patchLength: Type.Union([Type.Integer(), Type.Null()]),
  compressedTargetLength: Type.Union([Type.Integer(), Type.Null()], { description: 'the full target, brotli quality 1: the offer yardstick' }),
  patchRatio: Type.Union([Type.Number(), Type.Null()], { description: 'patchLength / compressedTargetLength' }),
  offered: Type.Boolean({ description: 'true when ready: devices on the source get this delta' }),
  variants: Type.Array(
    Type.Object({
      format: Type.String({ description: 'the kind of device it is for, as agents report it (e.g. slipway-delta-v2+puff, slipway-delta-v3+puff)' }),
      patchSha256: Sha256,
      patchLength: Type.Integer(),
      patchRatio: Type.Union([Type.Number(), Type.Null()], { description: 'patchLength / compressedTargetLength' }),
    }),
    { description: "the same pair's patches in other formats (SLIPWAY_DELTA_FORMAT_VERSION=2 or 3): a device gets the smallest ready patch it can apply" },
  ),
  metadata: Type.Union([Type.Unknown(), Type.Null()], { description: 'the delta metadata envelope signed by the online key' }),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()], {
    description: 'the last failure (also while a retry is queued)',
  }),
  buildMs: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
})

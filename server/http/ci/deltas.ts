/** Deltas: operators and CI ask for one, anyone authenticated reads them; patch bytes come from /v1/blobs. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import type { DeltaRecord, DeltaVariant } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, requireRole } from '../auth.js'
import { Delta, DeltaInput, DeltaStateSchema, errors } from '../schemas.js'

export function deltaView(d: DeltaRecord, variants: readonly DeltaVariant[] = []): Static<typeof Delta> {
  const finished = d.state === 'ready' || d.state === 'too-large'
  const ratio = (length: number | null) => (length !== null && d.compressedTargetLength ? length / d.compressedTargetLength : null)
  return {
    id: d.id,
    from: d.fromReleaseId,
    to: d.toReleaseId,
    sourceSha256: d.sourceSha256,
    targetSha256: d.targetSha256,
    targetLength: d.targetLength,
    state: d.state,
    progress: finished ? 1 : d.targetLength > 0 ? Math.min(1, d.builtBytes / d.targetLength) : 0,
    attempts: d.attempts,
    patchSha256: d.patchSha256,
    patchLength: d.patchLength,
    compressedTargetLength: d.compressedTargetLength,
    patchRatio: ratio(d.patchLength),
    offered: d.state === 'ready',
    variants: variants.map((v) => ({ format: v.format, patchSha256: v.patchSha256, patchLength: v.patchLength, patchRatio: ratio(v.patchLength) })),
    metadata: d.metadata === null ? null : JSON.parse(d.metadata),
    error: d.errorCode === null ? null : { code: d.errorCode, message: d.errorMessage ?? '' },
    buildMs: d.buildMs,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    finishedAt: d.finishedAt,
  }
}

export const deltaRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, deltas } = services
    const viewsOf = async (rows: DeltaRecord[]) => {
      const variants = await deltas.variantsOf(rows)
      return rows.map((d) => deltaView(d, variants.get(d.id)))
    }
    const viewOf = async (d: DeltaRecord) => deltaView(d, (await deltas.variantsOf([d])).get(d.id))

    app.post(
      '/v1/deltas',
      {
        // operators ask for the fleet they watch; CI may pre-build right after a push
        onRequest: requireRole(auth, ['operator', 'admin', 'ci']),
        schema: {
          tags: ['management'],
          summary: 'Ask for the delta between two releases of one name: 202 while it builds, 200 once built (ready or too-large)',
          body: DeltaInput,
          response: { 200: Delta, 202: Delta, ...errors(400, 401, 403, 404, 422, 503) },
        },
      },
      async (request, reply) => {
        const d = await deltas.request(request.body.from, request.body.to)
        return reply.status(d.state === 'ready' || d.state === 'too-large' ? 200 : 202).send(await viewOf(d))
      },
    )

    app.get(
      '/v1/deltas',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['management'],
          querystring: Type.Object(
            {
              state: Type.Optional(DeltaStateSchema),
              to: Type.Optional(Type.String({ maxLength: 64, description: 'target release id' })),
              limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
              after: Type.Optional(Type.String({ maxLength: 64, description: 'id of the last delta of the previous page' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ deltas: Type.Array(Delta) }), ...errors(400, 401, 403) },
        },
      },
      async (request) => {
        const { state, to, limit, after } = request.query
        const rows = await deltas.list({ limit, ...(state ? { state } : {}), ...(to ? { toReleaseId: to } : {}), ...(after ? { after } : {}) })
        return { deltas: await viewsOf(rows) }
      },
    )

    app.get(
      '/v1/deltas/:id',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['management'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Delta, ...errors(401, 403, 404) },
        },
      },
      async (request) => viewOf(await deltas.get(request.params.id)),
    )
  }

/** Releases: CI binds a finished upload to release metadata; anyone authenticated reads. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Services } from '../../services.js'
import { ALL_ROLES, principalOf, requireRole } from '../auth.js'
import { errors, Release, ReleaseInput, ReleasePreflight } from '../schemas.js'

export const releaseRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, releases } = services
    releases.onDeltaPlanningFailed((err, release) => app.log.warn({ err, release: release.id }, 'delta planning was not queued'))

    app.post(
      '/v1/releases',
      {
        onRequest: requireRole(auth, ['ci', 'admin']),
        schema: {
          tags: ['ci'],
          summary: 'Publish a release from a finished upload (idempotent for identical content)',
          body: ReleaseInput,
          response: { 200: Release, 201: Release, ...errors(400, 401, 403, 404, 409, 422, 503) },
        },
      },
      async (request, reply) => {
        const { provenance, ...rest } = request.body
        const result = await releases.publish({ ...rest, provenance: provenance ?? {} }, principalOf(request))
        return reply.status(result.created ? 201 : 200).send(result.release)
      },
    )

    app.post(
      '/v1/releases/preflight',
      {
        onRequest: requireRole(auth, ['ci', 'admin']),
        schema: {
          tags: ['ci'],
          summary: 'Would this push be accepted? Every refusal that needs no bytes, before the upload',
          body: ReleasePreflight,
          response: { 200: Type.Object({ existing: Type.Union([Release, Type.Null()]) }), ...errors(400, 401, 403, 409, 422, 503) },
        },
      },
      async (request) => {
        const { provenance, ...rest } = request.body
        return releases.preflight({ ...rest, provenance: provenance ?? {} })
      },
    )

    app.get(
      '/v1/releases',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['management'],
          querystring: Type.Object(
            {
              name: Type.Optional(Type.String({ maxLength: 128 })),
              limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
              after: Type.Optional(Type.String({ maxLength: 64, description: 'id of the last release of the previous page' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ releases: Type.Array(Release) }), ...errors(400, 401, 403) },
        },
      },
      async (request) => ({ releases: await releases.list(request.query) }),
    )

    app.get(
      '/v1/releases/:id',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['management'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: Release, ...errors(401, 403, 404) },
        },
      },
      async (request) => releases.get(request.params.id),
    )
  }

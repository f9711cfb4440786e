/**
 * Provenance (issue 12 §5): the policy of a release name (which signed provenance fields
 * a push must carry), and SBOM documents stored as blobs and read through their release.
 */
import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { invalid } from '../../domain/errors.js'
import { actorOf } from '../../domain/model.js'
import { PROVENANCE_FIELDS } from '../../domain/releases/provenance-policy.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, OPERATORS, principalOf, requireRole } from '../auth.js'
import { errors } from '../schemas.js'

/** SBOM documents (SPDX, CycloneDX) are small next to images; bytes. */
const SBOM_MAX_BYTES = 32 * 1024 * 1024

const Name = Type.String({ minLength: 1, maxLength: 128 })
const Field = Type.Union(PROVENANCE_FIELDS.map((f) => Type.Literal(f)))
const Policy = Type.Object({
  name: Type.String(),
  require: Type.Array(Type.String(), { description: 'provenance fields the signed metadata of a push must carry' }),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.Union([Type.String(), Type.Null()]),
})

export const provenanceRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, releasePolicies, sboms } = services

    app.get(
      '/v1/releases/:name/policy',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: { tags: ['management'], summary: 'The provenance policy of a release name', params: Type.Object({ name: Name }), response: { 200: Policy, ...errors(400, 401, 403) } },
      },
      async (request) => releasePolicies.get(request.params.name),
    )

    app.put(
      '/v1/releases/:name/policy',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: {
          tags: ['management'],
          summary: 'Set which signed provenance fields a push of this name must carry (audited)',
          params: Type.Object({ name: Name }),
          body: Type.Object({ require: Type.Array(Field, { maxItems: PROVENANCE_FIELDS.length, uniqueItems: true }), reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
          response: { 200: Policy, ...errors(400, 401, 403, 409) },
        },
      },
      async (request) => releasePolicies.set(request.params.name, request.body.require, actorOf(principalOf(request)), request.body.reason ?? null),
    )

    // raw bytes of any type, JSON included: an SBOM is stored byte for byte, under its sha256
    await app.register(async (raw) => {
      raw.removeAllContentTypeParsers()
      raw.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: SBOM_MAX_BYTES }, (_req, body, done) => done(null, body))
      raw.withTypeProvider<TypeBoxTypeProvider>().post(
        '/v1/sboms',
        {
          onRequest: requireRole(auth, ['ci', 'admin']),
          bodyLimit: SBOM_MAX_BYTES,
          schema: {
            tags: ['ci'],
            summary: 'Store an SBOM document as a blob; sign its sha256 as provenance.sbomDigest',
            response: { 201: Type.Object({ sha256: Type.String(), length: Type.Integer(), sbomDigest: Type.String() }), ...errors(400, 401, 403, 413) },
          },
        },
        async (request, reply) => {
          const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
          if (body.length === 0) throw invalid('SBOM_EMPTY', 'the request body must be the SBOM document')
          const info = await sboms.store(Readable.from([body]))
          return reply.status(201).send({ ...info, sbomDigest: `sha256:${info.sha256}` })
        },
      )
    })

    app.get(
      '/v1/releases/:name/:version/sbom',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['management'],
          summary: 'The SBOM the signed provenance of a release names',
          params: Type.Object({ name: Name, version: Type.String({ minLength: 1, maxLength: 128 }) }),
          response: errors(401, 403, 404),
        },
      },
      async (request, reply) => {
        const sbom = await sboms.forRelease(request.params.name, request.params.version)
        return reply.header('content-type', 'application/octet-stream').header('content-length', sbom.length).header('etag', `"${sbom.sha256}"`).send(sbom.content)
      },
    )
  }

/** Devices and enrollment tokens for operators; the audit log. Reads go through the device directory. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, principalOf, requireRole, WATCHERS } from '../auth.js'
import { AuditPage, DeviceDetailView, DeviceList, EnrollmentTokenList, ExplanationView, IssuedEnrollmentToken } from './views/index.js'
import { ApproveBody, DeviceCertificateView, EnrollmentTokenBody, ReasonBody } from '../fleet-schemas.js'
import { InventoryQuery } from '../inventory-schemas.js'
import { inventoryFilter } from './inventory-query.js'
import { errors } from '../schemas.js'

const OPERATORS = ['operator', 'admin'] as const

export const fleetRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, enrollment, directory, identity } = services

    app.post(
      '/v1/enrollment-tokens',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: {
          tags: ['fleet'],
          summary: 'Issue an enrollment token (shown once) for a group',
          body: EnrollmentTokenBody,
          response: { 201: IssuedEnrollmentToken, ...errors(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const { token, record } = await enrollment.createToken({ ...request.body, createdBy: actorOf(principalOf(request)) })
        return reply.status(201).send({ token, ...record })
      },
    )

    app.get(
      '/v1/enrollment-tokens',
      { onRequest: requireRole(auth, OPERATORS), schema: { tags: ['fleet'], response: { 200: EnrollmentTokenList, ...errors(401, 403) } } },
      async () => ({ tokens: await enrollment.listTokens() }),
    )

    app.delete(
      '/v1/enrollment-tokens/:id',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...errors(401, 403, 404) } },
      },
      async (request, reply) => {
        await enrollment.revokeToken(request.params.id, actorOf(principalOf(request)))
        return reply.status(204).send(null)
      },
    )

    app.get(
      '/v1/devices',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['fleet'],
          querystring: Type.Object(
            {
              group: Type.Optional(Type.String({ maxLength: 128 })),
              hardware: Type.Optional(Type.String({ maxLength: 128 })),
              tag: Type.Optional(Type.String({ maxLength: 64 })),
              search: Type.Optional(Type.String({ maxLength: 128, description: 'prefix of the device id or hardware id' })),
              notSeenFactor: Type.Optional(Type.Number({ minimum: 1, maximum: 10000, description: 'only devices not seen for this many poll intervals' })),
              state: Type.Optional(Type.String({ maxLength: 32 })),
              version: Type.Optional(Type.String({ maxLength: 260, description: 'name or name@version of an installed release' })),
              sourceRevision: Type.Optional(Type.String({ maxLength: 200, description: 'runs a release signed with this provenance.sourceRevision' })),
              sbomDigest: Type.Optional(Type.String({ maxLength: 200, description: 'runs a release signed with this provenance.sbomDigest' })),
              limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
              after: Type.Optional(Type.String({ maxLength: 64 })),
              ...InventoryQuery,
            },
            { additionalProperties: false },
          ),
          response: { 200: DeviceList, ...errors(400, 401, 403) },
        },
      },
      async (request) => {
        const { version, ...rest } = request.query
        const { q, inventory } = await inventoryFilter(rest, services.inventory)
        return directory.list({ ...q, ...inventory, ...(version !== undefined && { release: version }) })
      },
    )

    app.get(
      '/v1/devices/:id',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: { tags: ['fleet'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: DeviceDetailView, ...errors(401, 403, 404) } },
      },
      async (request) => directory.show(request.params.id),
    )

    const DeviceId = Type.Object({ id: Type.String({ maxLength: 64 }) })

    app.get(
      '/v1/devices/:id/certificates',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: { tags: ['fleet'], summary: 'The device\'s certificates: active, pending claims, revoked', params: DeviceId, response: { 200: Type.Object({ certificates: Type.Array(DeviceCertificateView) }), ...errors(401, 403, 404) } },
      },
      async (request) => ({ certificates: await identity.certificates(request.params.id) }),
    )

    app.post(
      '/v1/devices/:id/approve',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], summary: 'Approve a re-enrollment claim: its key becomes the device\'s, every other certificate is revoked', params: DeviceId, body: ApproveBody, response: { 200: DeviceCertificateView, ...errors(400, 401, 403, 404) } },
      },
      async (request) => identity.approve(request.params.id, request.body.serial, actorOf(principalOf(request)), request.body.reason),
    )

    app.post(
      '/v1/devices/:id/revoke',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], summary: 'Revoke every certificate of the device (refused on every route at once; listed in the CRL)', params: DeviceId, body: ReasonBody, response: { 200: Type.Object({ revoked: Type.Array(Type.String()) }), ...errors(400, 401, 403, 404) } },
      },
      async (request) => ({ revoked: await identity.revokeDeviceCertificates(request.params.id, request.body.reason, actorOf(principalOf(request))) }),
    )

    app.post(
      '/v1/device-certificates/:serial/revoke',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], summary: 'Revoke one device certificate (e.g. reject a re-enrollment claim)', params: Type.Object({ serial: Type.String({ pattern: '^[0-9a-f]{1,40}$' }) }), body: ReasonBody, response: { 200: DeviceCertificateView, ...errors(400, 401, 403, 404) } },
      },
      async (request) => identity.revokeCertificate(request.params.serial, request.body.reason, actorOf(principalOf(request))),
    )

    app.get(
      '/v1/devices/:id/explain',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['fleet'],
          summary: 'Why this device is or is not offered an update right now',
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 200: ExplanationView, ...errors(401, 403, 404) },
        },
      },
      async (request) => directory.explain(request.params.id),
    )

    app.get(
      '/v1/audit',
      {
        onRequest: requireRole(auth, WATCHERS),
        schema: {
          tags: ['audit'],
          summary: 'The hash-chained audit log, oldest first',
          querystring: Type.Object(
            { after: Type.Integer({ minimum: 0, maximum: 2147483647, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }), subject: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          response: { 200: AuditPage, ...errors(400, 401, 403) },
        },
      },
      async (request) => ({ entries: await directory.audit(request.query) }),
    )
  }

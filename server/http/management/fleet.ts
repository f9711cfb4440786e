/** Devices and enrollment tokens for operators; the audit log. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { explainDevice } from '../../domain/rollouts/explain.js'
import { notFound } from '../../domain/errors.js'
import { actorOf } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, principalOf, requireRole, WATCHERS } from '../auth.js'
import { DeviceView } from './device-schemas.js'
import { ApproveBody, DeviceCertificateView, EnrollmentTokenBody, ReasonBody } from '../fleet-schemas.js'
import { InventoryQuery } from '../inventory-schemas.js'
import { inventoryFilter } from './inventory-query.js'
import { errors } from '../schemas.js'

const OPERATORS = ['operator', 'admin'] as const

export const fleetRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, enrollment, repos, caches, assignments, identity } = services
    const fleet = repos.fleet

    app.post(
      '/v1/enrollment-tokens',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], summary: 'Issue an enrollment token (shown once) for a group', body: EnrollmentTokenBody, response: errors(400, 401, 403) },
      },
      async (request, reply) => {
        const { token, record } = await enrollment.createToken({ ...request.body, createdBy: actorOf(principalOf(request)) })
        const { tokenHash: _h, ...shown } = record
        return reply.status(201).send({ token, ...shown })
      },
    )

    app.get('/v1/enrollment-tokens', { onRequest: requireRole(auth, OPERATORS), schema: { tags: ['fleet'], response: errors(401, 403) } }, async () => ({
      tokens: (await enrollment.listTokens()).map(({ tokenHash: _h, ...t }) => t),
    }))

    app.delete(
      '/v1/enrollment-tokens/:id',
      { onRequest: requireRole(auth, OPERATORS), schema: { tags: ['fleet'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: errors(401, 403, 404) } },
      async (request, reply) => {
        await enrollment.revokeToken(request.params.id, actorOf(principalOf(request)))
        return reply.status(204).send()
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
          response: { 200: Type.Object({ devices: Type.Array(DeviceView), total: Type.Integer({ description: 'devices matching the filters, all pages' }) }), ...errors(400, 401, 403) },
        },
      },
      async (request) => {
        const { version, notSeenFactor, limit, after, ...rest } = request.query
        const { q, inventory } = await inventoryFilter(rest, services.inventory)
        const at = version?.lastIndexOf('@') ?? -1
        const release = version === undefined ? {} : at > 0 ? { name: version.slice(0, at), version: version.slice(at + 1) } : { name: version }
        const seen = notSeenFactor === undefined ? {} : { seenBefore: new Date(Date.now() - notSeenFactor * services.config.pollIntervalSeconds * 1000).toISOString() }
        const filter = { ...q, ...release, ...seen, ...inventory }
        const devices = await fleet.devices.list({ ...filter, limit, ...(after !== undefined && { after }) })
        return { devices: devices.map(({ credentialHash: _c, ...d }) => d), total: await fleet.inventory.count(filter) }
      },
    )

    app.get(
      '/v1/devices/:id',
      { onRequest: requireRole(auth, ALL_ROLES), schema: { tags: ['fleet'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: errors(401, 403, 404) } },
      async (request) => {
        const d = await fleet.devices.findById(request.params.id)
        if (!d) throw notFound('DEVICE_NOT_FOUND', `no device ${request.params.id}`)
        const { credentialHash: _c, ...shown } = d
        const [rollouts, progress, securityEvents, inventory, integrity] = await Promise.all([
          fleet.members.forDevice(d.id),
          fleet.devices.progress(d.id),
          fleet.devices.securityEvents(d.id, 20),
          services.inventory.view(d.id),
          services.integrity.flags(d.id),
        ])
        return { ...shown, rollouts, ...(progress ? { progress } : {}), securityEvents, inventory, integrity }
      },
    )

    const DeviceId = Type.Object({ id: Type.String({ maxLength: 64 }) })
    const shownCertificate = ({ publicKey: _k, certificate: _c, ...c }: Awaited<ReturnType<typeof identity.certificates>>[number]) => c

    app.get(
      '/v1/devices/:id/certificates',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: { tags: ['fleet'], summary: 'The device\'s certificates: active, pending claims, revoked', params: DeviceId, response: { 200: Type.Object({ certificates: Type.Array(DeviceCertificateView) }), ...errors(401, 403, 404) } },
      },
      async (request) => ({ certificates: (await identity.certificates(request.params.id)).map(shownCertificate) }),
    )

    app.post(
      '/v1/devices/:id/approve',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: { tags: ['fleet'], summary: 'Approve a re-enrollment claim: its key becomes the device\'s, every other certificate is revoked', params: DeviceId, body: ApproveBody, response: { 200: DeviceCertificateView, ...errors(400, 401, 403, 404) } },
      },
      async (request) => shownCertificate(await identity.approve(request.params.id, request.body.serial, actorOf(principalOf(request)), request.body.reason)),
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
      async (request) => shownCertificate(await identity.revokeCertificate(request.params.serial, request.body.reason, actorOf(principalOf(request)))),
    )

    app.get(
      '/v1/devices/:id/explain',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: { tags: ['fleet'], summary: 'Why this device is or is not offered an update right now', params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: errors(401, 403, 404) },
      },
      async (request) => explainDevice(request.params.id, fleet, caches, assignments),
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
          response: errors(400, 401, 403),
        },
      },
      async (request) => ({ entries: await fleet.audit.list(request.query) }),
    )
  }

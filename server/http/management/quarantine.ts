/** Operators take a device out of the fleet: quarantine, release, decommission (issue 10 §4). */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { principalOf, requireRole } from '../auth.js'
import { errors } from '../schemas.js'

const OPERATORS = ['operator', 'admin'] as const
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500, description: 'why, for the audit log' }) }, { additionalProperties: false })
const Standing = Type.Object({
  deviceId: Type.String(),
  quarantined: Type.Boolean(),
  quarantinedAt: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
})

export const quarantineRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, quarantine } = services
    const onRequest = requireRole(auth, OPERATORS)

    app.post(
      '/v1/devices/:id/quarantine',
      {
        onRequest,
        schema: {
          tags: ['fleet'],
          summary: 'Quarantine a device: revoke its credential, withdraw its assignment, take it out of rollout counts; it gets 403 DEVICE_QUARANTINED everywhere',
          params: Params,
          body: ReasonBody,
          response: { 200: Standing, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const d = await quarantine.quarantine(request.params.id, request.body.reason, actorOf(principalOf(request)))
        return { deviceId: d.id, quarantined: true, quarantinedAt: d.quarantinedAt ?? null, reason: d.quarantineReason ?? null }
      },
    )

    app.post(
      '/v1/devices/:id/release',
      {
        onRequest,
        schema: {
          tags: ['fleet'],
          summary: 'Lift a quarantine; the revoked credential stays revoked, so the device must enroll again',
          params: Params,
          body: ReasonBody,
          response: { 200: Standing, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const d = await quarantine.release(request.params.id, request.body.reason, actorOf(principalOf(request)))
        return { deviceId: d.id, quarantined: false, quarantinedAt: null, reason: null }
      },
    )

    app.delete(
      '/v1/devices/:id',
      {
        onRequest,
        schema: {
          tags: ['fleet'],
          summary: 'Decommission a device: its identity is deleted, its history (reports, rollouts, audit) kept',
          params: Params,
          body: ReasonBody,
          response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await quarantine.decommission(request.params.id, request.body.reason, actorOf(principalOf(request)))
        return reply.status(204).send(null)
      },
    )
  }

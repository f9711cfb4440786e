/** The device API (client-sdk/DEVICE-API.md): enroll, poll, events, health. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Counter } from 'prom-client'
import { Type } from 'typebox'
import type { Services } from '../services.js'
import { DEVICE_ONLY, deviceOf, devicePrincipalOf, requireRole } from './auth.js'
import { EnrollBody, EnrollReply, EventsBody, HealthBody, SecurityEventBody } from './fleet-schemas.js'
import { InventoryBody, InventoryReply } from './inventory-schemas.js'
import { errors } from './schemas.js'
import { enrollmentRateLimit } from './throttle.js'

export const POLL_INTERVAL_HEADER = 'slipway-poll-interval'

export const deviceRoutes =
  (services: Services, polls?: Counter<'result'>): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, enrollment, assignments, reports, config } = services
    const deviceOnly = requireRole(auth, DEVICE_ONLY)

    app.post(
      '/v1/device/enroll',
      {
        config: { rateLimit: enrollmentRateLimit(config.boundary) },
        schema: {
          tags: ['device'],
          summary: 'Trade an enrollment token for a device credential (re-enrolling rotates it)',
          security: [],
          body: EnrollBody,
          response: { 200: EnrollReply, 201: EnrollReply, ...errors(400, 401, 403, 429) },
        },
      },
      async (request, reply) => {
        const r = await enrollment.enroll(request.body)
        return reply.status(r.created ? 201 : 200).send({ deviceId: r.device.id, credential: r.credential, group: r.device.group, pollIntervalSeconds: config.pollIntervalSeconds })
      },
    )

    app.get(
      '/v1/device/update',
      {
        onRequest: deviceOnly,
        schema: {
          tags: ['device'],
          summary: 'The poll: 204 nothing to do, 200 a signed assignment, 304 unchanged',
          headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ maxLength: 128 })) }),
          response: { ...errors(401, 403) },
        },
      },
      async (request, reply) => {
        const { deviceId, device } = devicePrincipalOf(request)
        await services.devices.seen(device)
        const r = await assignments.poll(deviceId, request.headers['if-none-match'], device)
        reply.header(POLL_INTERVAL_HEADER, String(r.pollIntervalSeconds))
        polls?.inc({ result: r.kind })
        if (r.kind === 'none') return reply.status(204).send()
        reply.header('etag', r.etag)
        if (r.kind === 'not-modified') return reply.status(304).send()
        // the stored body is already JSON: no re-serialisation on the hot path
        return reply.status(200).type('application/json').send(r.body)
      },
    )

    app.post(
      '/v1/device/events',
      {
        onRequest: deviceOnly,
        schema: {
          tags: ['device'],
          summary: 'State reports, idempotent by id, ordered by seq, all-or-nothing per batch',
          body: EventsBody,
          response: { 200: Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer(), stale: Type.Integer() }), ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => reports.events(deviceOf(request), request.body.events),
    )

    app.post(
      '/v1/device/security-events',
      {
        onRequest: deviceOnly,
        schema: {
          tags: ['device'],
          summary: 'Something the device refused (a replayed assignment) or found (integrity drift, a check past its time budget): audited, never a rollout outcome',
          body: SecurityEventBody,
          response: { 200: Type.Object({ accepted: Type.Boolean() }, { additionalProperties: true }), ...errors(400, 401, 403) },
        },
      },
      async (request) => (request.body.kind === 'offer-refused' ? reports.security(deviceOf(request), request.body) : services.integrity.report(deviceOf(request), request.body)),
    )

    app.put(
      '/v1/device/inventory',
      {
        onRequest: deviceOnly,
        bodyLimit: config.inventory.maxBytes,
        schema: {
          tags: ['device'],
          summary: 'The device inventory (OS, kernel, packages, models, free space, bootloader, TPM), at boot and when it changes',
          body: InventoryBody,
          response: { 200: InventoryReply, ...errors(400, 401, 403, 413) },
        },
      },
      async (request) => services.inventory.report(deviceOf(request), request.body),
    )

    app.post(
      '/v1/device/health',
      {
        onRequest: deviceOnly,
        schema: {
          tags: ['device'],
          summary: 'Heartbeat with boot status, named checks and metrics after a reboot',
          body: HealthBody,
          response: { 200: Type.Object({ accepted: Type.Boolean(), ok: Type.Boolean(), failed: Type.Array(Type.String()) }), ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => reports.health(deviceOf(request), request.body),
    )
  }

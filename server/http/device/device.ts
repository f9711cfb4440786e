/** The device API (client-sdk/DEVICE-API.md): enroll, renew, poll, events, health; the device CA's certificate and CRL. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Counter } from 'prom-client'
import { Type } from 'typebox'
import { invalid } from '../../domain/errors.js'
import { acceptedDeltaFormats } from '../../domain/deltas/delta-formats.js'
import { DeviceAuthService } from '../../domain/trust/device-auth-service.js'
import type { Services } from '../../services.js'
import { deviceOf, devicePrincipalOf, deviceRequestOf, requireDevice } from '../auth.js'
import {
  AttestationChallengeRequestSchema,
  AttestationChallengeSchema,
  CertificateGrantSchema,
  DEVICE_STATE_HEADER,
  EnrollReplySchema,
  EnrollRequestSchema,
  EventsReplySchema,
  EventsRequestSchema,
  HealthReplySchema,
  HealthReportSchema,
  InventoryReplySchema,
  InventoryReportSchema,
  POLL_INTERVAL_HEADER,
  PollOfferSchema,
  RenewRequestSchema,
  SecurityEventSchema,
  SecurityReplySchema,
  type AttestationChallenge,
  type PollOffer,
  type Received,
} from '../../../client-sdk/src/wire/index.js'
import { errors } from '../schemas.js'
import { enrollmentRateLimit } from '../throttle.js'

/** No body: 204 and 304 of the poll. */
const Empty = { description: 'no body' } as const

export const deviceRoutes =
  (services: Services, polls?: Counter<'result'>): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { deviceAuth, identity, enrollment, assignments, reports, config } = services
    const device = requireDevice(deviceAuth)

    app.post<{ Body: Received<typeof EnrollRequestSchema> }>(
      '/v1/device/enroll',
      {
        config: { rateLimit: enrollmentRateLimit(config.boundary) },
        schema: {
          tags: ['device'],
          summary: 'Trade an enrollment token and a CSR for a device certificate; re-enrolling needs the current key, else the claim waits for approval',
          security: [],
          body: EnrollRequestSchema,
          response: { 200: EnrollReplySchema, 201: EnrollReplySchema, 202: EnrollReplySchema, ...errors(400, 401, 403, 422, 429) },
        },
      },
      async (request, reply) => {
        const { csr, attestation, ...rest } = request.body
        // a request that offers proof of a device key must pass it: a bad signature is refused, not taken for "no proof"
        const req = deviceRequestOf(request)
        const proof = DeviceAuthService.offersProof(req) ? await deviceAuth.authenticate(req) : undefined
        if (csr === undefined) {
          if (!config.identity.bearerCompat) throw invalid('ENROLL_CSR_REQUIRED', 'enrollment needs a CSR for the device key (csr)')
          const r = await enrollment.enroll(rest, proof?.deviceId)
          return reply.status(r.created ? 201 : 200).send({ deviceId: r.device.id, credential: r.credential, group: r.device.group, pollIntervalSeconds: config.pollIntervalSeconds })
        }
        const r = await identity.enroll({ ...rest, csr, ...(attestation !== undefined ? { attestation } : {}) }, proof)
        const { kind, ...grant } = r
        return reply.status(kind === 'created' ? 201 : kind === 'claim-pending' ? 202 : 200).send({ ...grant, pollIntervalSeconds: config.pollIntervalSeconds })
      },
    )

    app.post<{ Body: Received<typeof AttestationChallengeRequestSchema> }>(
      '/v1/device/attestation-challenge',
      {
        // throttled with enrollments: same token key, same budget
        config: { rateLimit: enrollmentRateLimit(config.boundary) },
        schema: {
          tags: ['device'],
          summary: 'Round 1 of a TPM key attestation before enrollment: a credential-activation challenge for the EK and attestation key',
          security: [],
          body: AttestationChallengeRequestSchema,
          response: { 200: AttestationChallengeSchema, ...errors(400, 401, 422, 429) },
        },
      },
      async (request) => {
        const { enrollmentToken, ...activation } = request.body
        return identity.attestationChallenge(enrollmentToken, activation) as Promise<AttestationChallenge>
      },
    )

    app.post<{ Body: Received<typeof RenewRequestSchema> }>(
      '/v1/device/certificate',
      {
        preValidation: device,
        schema: {
          tags: ['device'],
          summary: 'Renew the device certificate: the request is signed with the current key; the CSR carries the same or a new key',
          body: RenewRequestSchema,
          response: { 200: CertificateGrantSchema, ...errors(400, 401, 403, 422) },
        },
      },
      async (request) => identity.renew(devicePrincipalOf(request), request.body.csr, request.body.attestation),
    )

    app.get(
      '/v1/device/update',
      {
        preValidation: requireDevice(deviceAuth, { allowPending: true }),
        schema: {
          tags: ['device'],
          summary: 'The poll: 204 nothing to do, 200 a signed assignment, 304 unchanged',
          headers: Type.Object({
            'if-none-match': Type.Optional(Type.String({ maxLength: 128 })),
            /** the delta formats the agent's applier takes (domain/deltas/delta-formats.ts) */
            'slipway-delta-formats': Type.Optional(Type.String({ maxLength: 256 })),
          }),
          response: { 200: PollOfferSchema, 204: Empty, 304: Empty, ...errors(401, 403) },
        },
      },
      async (request, reply) => {
        const { deviceId, device: ctx, certificate } = devicePrincipalOf(request)
        if (certificate?.state === 'pending') {
          // a claim awaiting approval reaches no rollout: nothing to do, ever, until approved
          polls?.inc({ result: 'none' })
          return reply.status(204).header(POLL_INTERVAL_HEADER, String(config.pollIntervalSeconds)).header(DEVICE_STATE_HEADER, 'pending').send()
        }
        // a pending claimant is not the device: only a proven device counts as seen
        await services.devices.seen(ctx)
        // the builder runs in this Node (or a worker of the same build): its zlib decides format 2
        const formats = acceptedDeltaFormats(request.headers['slipway-delta-formats'], process.versions.zlib)
        const r = await assignments.poll(deviceId, request.headers['if-none-match'], ctx, formats)
        reply.header(POLL_INTERVAL_HEADER, String(r.pollIntervalSeconds))
        polls?.inc({ result: r.kind })
        if (r.kind === 'none') return reply.status(204).send()
        reply.header('etag', r.etag)
        if (r.kind === 'not-modified') return reply.status(304).send()
        // the stored document is already the JSON of a PollOffer (poll-offer.ts wrote it): no re-serialisation on the hot path
        return reply.status(200).type('application/json').send(r.body as unknown as PollOffer)
      },
    )

    app.post<{ Body: Received<typeof EventsRequestSchema> }>(
      '/v1/device/events',
      {
        preValidation: device,
        schema: {
          tags: ['device'],
          summary: 'State reports, idempotent by id, ordered by seq, all-or-nothing per batch',
          body: EventsRequestSchema,
          response: { 200: EventsReplySchema, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => reports.events(deviceOf(request), request.body.events),
    )

    app.post<{ Body: Received<typeof SecurityEventSchema> }>(
      '/v1/device/security-events',
      {
        preValidation: device,
        schema: {
          tags: ['device'],
          summary: 'Something the device refused (a replayed assignment) or found (integrity drift, a check past its time budget): audited, never a rollout outcome',
          body: SecurityEventSchema,
          response: { 200: SecurityReplySchema, ...errors(400, 401, 403) },
        },
      },
      async (request) => (request.body.kind === 'offer-refused' ? reports.security(deviceOf(request), request.body) : services.integrity.report(deviceOf(request), request.body)),
    )

    app.put<{ Body: Received<typeof InventoryReportSchema> }>(
      '/v1/device/inventory',
      {
        preValidation: device,
        bodyLimit: config.inventory.maxBytes,
        schema: {
          tags: ['device'],
          summary: 'The device inventory (OS, kernel, packages, models, free space, bootloader, TPM), at boot and when it changes',
          body: InventoryReportSchema,
          response: { 200: InventoryReplySchema, ...errors(400, 401, 403, 413) },
        },
      },
      async (request) => services.inventory.report(deviceOf(request), request.body),
    )

    app.post<{ Body: Received<typeof HealthReportSchema> }>(
      '/v1/device/health',
      {
        preValidation: device,
        schema: {
          tags: ['device'],
          summary: 'Heartbeat with boot status, named checks and metrics after a reboot',
          body: HealthReportSchema,
          response: { 200: HealthReplySchema, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => reports.health(deviceOf(request), request.body),
    )

    app.get(
      '/v1/device-ca/certificate',
      { schema: { tags: ['device'], summary: 'The device CA certificate (PEM): the TLS client CA of mTLS and proxies', security: [] } },
      async (_request, reply) => reply.type('application/x-pem-file').send(identity.caCertificate),
    )

    app.get(
      '/v1/device-ca/crl',
      { schema: { tags: ['device'], summary: 'The device CA revocation list (PEM X.509 v2 CRL, RFC 5280 §5), for TLS proxies', security: [] } },
      async (_request, reply) => reply.type('application/x-pem-file').header('cache-control', 'no-cache').send(await identity.revocationList()),
    )
  }

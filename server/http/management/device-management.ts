/** Device management for operators: re-group / re-tag (one or by selector), dynamic groups, overview, reports. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, OPERATORS, principalOf, requireRole } from '../auth.js'
import { BulkBody, BulkReply, DeviceView, GroupBody, GroupView, LabelPatchBody, OverviewView, ReportsView } from './device-schemas.js'
import { errors } from '../schemas.js'

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) })
const GroupName = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) })

export const deviceManagementRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, devices, rollouts, config } = services
    const act = requireRole(auth, OPERATORS)
    const read = requireRole(auth, ALL_ROLES)

    app.patch(
      '/v1/devices/:id',
      {
        onRequest: act,
        schema: { tags: ['fleet'], summary: 'Re-group or re-tag one device (audited)', params: Id, body: LabelPatchBody, response: { 200: DeviceView, ...errors(400, 401, 403, 404) } },
      },
      async (request) => {
        const { reason, ...patch } = request.body
        return devices.update(request.params.id, patch, actorOf(principalOf(request)), reason ?? null)
      },
    )

    app.post(
      '/v1/devices/bulk-update',
      {
        onRequest: act,
        schema: {
          tags: ['fleet'],
          summary: 'Re-group or re-tag every device a selector matches (one audit entry per device changed)',
          body: BulkBody,
          response: { 200: BulkReply, ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => devices.bulk(request.body.selector, request.body.set, actorOf(principalOf(request)), request.body.reason ?? null),
    )

    app.get(
      '/v1/devices/:id/reports',
      {
        onRequest: read,
        schema: {
          tags: ['fleet'],
          summary: "The device's newest reports and the steps of its newest update (download, install, reboot, health)",
          params: Id,
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) }, { additionalProperties: false }),
          response: { 200: ReportsView, ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => {
        await devices.get(request.params.id)
        const { reports, progress } = await devices.reports(request.params.id, request.query.limit)
        return { reports: reports.map(({ deviceId: _d, ...r }) => r), progress }
      },
    )

    app.get(
      '/v1/fleet/overview',
      {
        onRequest: read,
        schema: {
          tags: ['fleet'],
          summary: 'Devices by state, hardware, group and installed version; devices not seen for notSeenFactor × the poll interval',
          querystring: Type.Object({ notSeenFactor: Type.Number({ minimum: 1, maximum: 10000, default: 3 }) }, { additionalProperties: false }),
          response: { 200: OverviewView, ...errors(400, 401, 403) },
        },
      },
      async (request) => {
        const live = await rollouts.list({ limit: 500, state: 'running' })
        const paused = await rollouts.list({ limit: 500, state: 'paused' })
        return { ...(await devices.overview(config.pollIntervalSeconds, request.query.notSeenFactor)), rollouts: { running: live.length, paused: paused.length } }
      },
    )

    app.get(
      '/v1/device-groups',
      { onRequest: read, schema: { tags: ['fleet'], summary: 'Dynamic groups (saved selectors) with how many devices each matches now', response: { 200: Type.Object({ groups: Type.Array(GroupView) }), ...errors(401, 403) } } },
      async () => ({ groups: await Promise.all((await devices.listGroups()).map(async (g) => ({ ...g, devices: (await devices.matching(g.selector)).length }))) }),
    )

    app.get(
      '/v1/device-groups/:name',
      {
        onRequest: read,
        schema: {
          tags: ['fleet'],
          params: GroupName,
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }, { additionalProperties: false }),
          response: { 200: Type.Object({ group: GroupView, devices: Type.Array(DeviceView) }), ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const g = await devices.group(request.params.name)
        const members = await devices.matching(g.selector)
        return { group: { ...g, devices: members.length }, devices: members.slice(0, request.query.limit) }
      },
    )

    app.put(
      '/v1/device-groups/:name',
      {
        onRequest: act,
        schema: { tags: ['fleet'], summary: 'Create or replace a dynamic group (audited)', params: GroupName, body: GroupBody, response: { 200: GroupView, ...errors(400, 401, 403) } },
      },
      async (request) => devices.saveGroup(request.params.name, request.body.selector, request.body.description ?? null, actorOf(principalOf(request)), request.body.reason ?? null),
    )

    app.delete(
      '/v1/device-groups/:name',
      {
        onRequest: act,
        schema: {
          tags: ['fleet'],
          params: GroupName,
          querystring: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
          response: { 204: Type.Null(), ...errors(401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        await devices.deleteGroup(request.params.name, actorOf(principalOf(request)), request.query.reason ?? null)
        return reply.status(204).send(null)
      },
    )
  }

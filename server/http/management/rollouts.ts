/** Rollouts for operators: create (or dry-run), read with live figures, act with a reason. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../../domain/model.js'
import { ACTIONS, type RolloutAction } from '../../domain/rollouts/transitions.js'
import { ROLLOUT_STATES } from '../../domain/fleet-model.js'
import type { Services } from '../../services.js'
import { ALL_ROLES, principalOf, requireRole } from '../auth.js'
import { ActionBody, RolloutBody } from '../fleet-schemas.js'
import { errors } from '../schemas.js'
import { DryRunView, RolloutList, RolloutView } from './views/index.js'

const OPERATORS = ['operator', 'admin'] as const

export const rolloutRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth, rollouts } = services

    app.post(
      '/v1/rollouts',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: {
          tags: ['rollouts'],
          summary: 'Define a rollout (a draft unless start: true); dryRun: true only counts the devices each phase would reach now',
          body: RolloutBody,
          response: { 200: DryRunView, 201: RolloutView, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        const { dryRun, start, reason, ...input } = request.body
        const actor = actorOf(principalOf(request))
        if (dryRun) return rollouts.dryRun(input, actor)
        let r = await rollouts.create(input, actor, reason ?? null)
        if (start) r = await rollouts.act(r.id, 'start', actor, reason ?? 'started at creation')
        return reply.status(201).send(await rollouts.view(r.id))
      },
    )

    app.get(
      '/v1/rollouts',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['rollouts'],
          querystring: Type.Object(
            {
              state: Type.Optional(Type.Union(ROLLOUT_STATES.map((s) => Type.Literal(s)))),
              limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
              after: Type.Optional(Type.String({ maxLength: 64 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: RolloutList, ...errors(400, 401, 403) },
        },
      },
      async (request) => ({ rollouts: await rollouts.list(request.query) }),
    )

    app.get(
      '/v1/rollouts/:id',
      {
        onRequest: requireRole(auth, ALL_ROLES),
        schema: {
          tags: ['rollouts'],
          summary: 'A rollout with live per-phase counts and the gate figures',
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          querystring: Type.Object({ reach: Type.Boolean({ default: false, description: 'also count the devices each phase reaches now' }) }, { additionalProperties: false }),
          response: { 200: RolloutView, ...errors(401, 403, 404) },
        },
      },
      async (request) => rollouts.view(request.params.id, { reach: request.query.reach }),
    )

    app.post(
      '/v1/rollouts/:id/:action',
      {
        onRequest: requireRole(auth, OPERATORS),
        schema: {
          tags: ['rollouts'],
          summary: 'start | pause | resume | promote | abort | rollback, with a reason (audited)',
          params: Type.Object({ id: Type.String({ maxLength: 64 }), action: Type.Union(ACTIONS.map((a) => Type.Literal(a))) }),
          body: ActionBody,
          response: { 200: RolloutView, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        await rollouts.act(request.params.id, request.params.action as RolloutAction, actorOf(principalOf(request)), request.body.reason)
        return rollouts.view(request.params.id)
      },
    )
  }

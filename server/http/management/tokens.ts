/** API token administration (admin only). The secret is in the create response and nowhere else. */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ApiToken } from '../../domain/model.js'
import type { Services } from '../../services.js'
import { requireRole } from '../auth.js'
import { errors, TokenInfo, TokenInput } from '../schemas.js'

const info = ({ tokenHash: _hash, ...rest }: ApiToken) => rest

export const tokenRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { auth } = services
    app.addHook('onRequest', requireRole(auth, ['admin']))

    app.post(
      '/v1/tokens',
      {
        schema: {
          tags: ['management'],
          summary: 'Create an API token; the secret is shown once',
          body: TokenInput,
          response: { 201: Type.Object({ ...TokenInfo.properties, token: Type.String({ description: 'the secret, shown only here' }) }), ...errors(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const { token, record } = await auth.create(request.body.role, request.body.label, request.body.ttlSeconds)
        return reply.status(201).send({ ...info(record), token })
      },
    )

    app.get(
      '/v1/tokens',
      { schema: { tags: ['management'], response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors(401, 403) } } },
      async () => ({ tokens: (await auth.list()).map(info) }),
    )

    app.delete(
      '/v1/tokens/:id',
      {
        schema: {
          tags: ['management'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 204: Type.Null(), ...errors(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await auth.revoke(request.params.id)
        return reply.status(204).send(null)
      },
    )
  }

/**
 * The published root chain, for devices walking forward from their provisioned
 * root (TUF 1.0 §5.3: fetch N+1.root.json until 404). Unauthenticated on purpose:
 * roots are public documents whose integrity comes from their signatures, and a
 * device must be able to fetch them before it holds any credential. The stored
 * canonical bytes are sent verbatim, since any re-encoding would break signatures.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Services } from '../../services.js'
import { errors } from '../schemas.js'

export const trustRoutes =
  (services: Services): FastifyPluginAsync =>
  async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>()
    const { trust } = services

    app.get(
      '/v1/trust/root/:file',
      {
        schema: {
          tags: ['device'],
          summary: 'Root metadata version N (`N.json`), or the newest (`latest.json`); public',
          security: [],
          params: Type.Object({ file: Type.String({ pattern: '^(?:[1-9][0-9]{0,8}|latest)\\.json$', description: '`{version}.json` or `latest.json`' }) }),
          response: { 200: Type.Unknown({ description: 'the signed root, canonical JSON' }), ...errors(400, 404) },
        },
      },
      async (request, reply) => {
        const name = request.params.file.slice(0, -'.json'.length)
        const { version, bytes } = await trust.document(name === 'latest' ? 'latest' : Number(name))
        // a version never changes once published; `latest` moves with every rotation
        reply.header('cache-control', name === 'latest' ? 'no-cache' : 'public, max-age=31536000, immutable')
        return reply.header('content-type', 'application/json').header('x-slipway-root-version', String(version)).send(bytes)
      },
    )
  }

/**
 * Graceful close: stop accepting, let in-flight requests finish, then drop the
 * keep-alive connections they leave behind. Fastify closes idle connections once,
 * when close() starts; a connection whose response finishes later would otherwise
 * hold the close open for the whole keep-alive timeout (72 s in Fastify).
 */
import type { FastifyInstance } from 'fastify'

export async function closeGracefully(app: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 50)
  try {
    await app.close()
  } finally {
    clearInterval(sweep)
  }
}

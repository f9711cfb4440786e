/** The OpenAPI-driven fuzz sweep (test/helpers/fuzz-sweep.ts) on PostgreSQL + Redis. */
import t from 'tap'
import { fuzzSweep } from '../helpers/fuzz-sweep.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer } from '../helpers/server.js'

t.test('fuzz sweep: PostgreSQL + Redis', async (t) => {
  const srv = await startServer(await scaleOutEnv(t))
  t.teardown(() => srv.close())
  await fuzzSweep(t, srv, 'postgres+redis')
})

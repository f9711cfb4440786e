/** The OpenAPI-driven fuzz sweep (test/helpers/fuzz-sweep.ts) on the embedded server (SQLite, in-process jobs). */
import t from 'tap'
import { fuzzSweep } from '../helpers/fuzz-sweep.js'
import { startServer } from '../helpers/server.js'

t.test('fuzz sweep: embedded', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await fuzzSweep(t, srv, 'embedded')
})

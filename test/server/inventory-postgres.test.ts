/** Inventory and integrity over real HTTP on PostgreSQL (scenario: inventory.scenarios.ts). */
import t from 'tap'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer } from '../helpers/server.js'
import { inventoryScenario } from './inventory.scenarios.js'

t.test('inventory and integrity on PostgreSQL', async (t) => {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  const srv = await startServer({ DATABASE_URL: pg.url })
  t.teardown(() => srv.close())
  await inventoryScenario(t, srv)
})

/** Inventory and integrity over real HTTP on embedded SQLite (scenario: inventory.scenarios.ts), and the size limit. */
import t from 'tap'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'
import { inventoryOf, inventoryScenario } from './inventory.scenarios.js'

t.test('inventory and integrity on SQLite', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await inventoryScenario(t, srv)
})

t.test('an inventory over its size limit is 413 with the error body', async (t) => {
  const srv = await startServer({ SLIPWAY_INVENTORY_MAX_BYTES: '65536' })
  t.teardown(() => srv.close())
  const dev = await enroll(srv, await enrollmentToken(srv, 'big'))
  const list = Array.from({ length: 3000 }, (_, i) => ({ name: `package-${i}`, version: '1.0.0-1' }))
  const inv = inventoryOf('6.1.0', list)
  const r = await deviceCall(srv, dev, 'PUT', '/v1/device/inventory', { ...inv, packages: { ...inv.packages, list } })
  t.equal(r.status, 413)
  t.equal(r.json.error.code, 'BODY_TOO_LARGE')
  t.type(r.json.error.message, 'string')
  const small = await deviceCall(srv, dev, 'PUT', '/v1/device/inventory', inventoryOf('6.1.0', list))
  t.equal(small.status, 200, 'without the list it fits')
})

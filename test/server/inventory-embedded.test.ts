/** Inventory and integrity over real HTTP on embedded SQLite (scenario: inventory.scenarios.ts), and the size limit. */
import t from 'tap'
import { slipway } from '../helpers/cli.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'
import { inventoryOf, inventoryScenario } from './inventory.scenarios.js'

t.test('inventory and integrity on SQLite', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const { op, a, b } = await inventoryScenario(t, srv)
  const shown = await slipway(['device', 'show', a], { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }).done
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /os +Debian GNU\/Linux 12 \(bookworm\), kernel 6\.1\.0-27-arm64/)
  t.match(shown.stdout, /agent +0\.1\.0, bootloader uboot, TPM no/)
  t.match(shown.stdout, /packages +2 \(digest [0-9a-f]{12}…, list stored\)/)
  t.match(shown.stdout, /models +llm@1\.0\.0/)
  t.match(shown.stdout, /integrity +DRIFT in os rootfs@1\.0\.0, first differing MiB 3 \(1 report/)
  const other = await slipway(['device', 'show', b], { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }).done
  t.match(other.stdout, /names an unknown release: never trusted/)
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

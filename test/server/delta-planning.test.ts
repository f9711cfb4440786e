/**
 * On publish, deltas are planned from the versions the fleet runs: the top N by
 * device count among devices of the release's hardware, through the FleetVersions
 * port (a small in-memory fleet here; devices come with the rollout issue).
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { FleetVersions } from '../../server/domain/ports/infrastructure.js'
import { call } from '../helpers/api.js'
import { imagePair, pushRelease, waitForDelta } from '../helpers/deltas.js'
import { startServer } from '../helpers/server.js'

/** Devices and what they run; topInstalled counts them as a devices table would. */
class InMemoryFleet implements FleetVersions {
  readonly devices: Array<{ hardware: string; name: string; releaseId: string }> = []
  readonly asked: Array<{ name: string; hardware: string[]; limit: number }> = []

  add(n: number, device: { hardware: string; name: string; releaseId: string }): void {
    for (let i = 0; i < n; i++) this.devices.push(device)
  }

  async topInstalled(name: string, hardware: string[], limit: number) {
    this.asked.push({ name, hardware, limit })
    const counts = new Map<string, number>()
    for (const d of this.devices) if (d.name === name && hardware.includes(d.hardware)) counts.set(d.releaseId, (counts.get(d.releaseId) ?? 0) + 1)
    return [...counts]
      .map(([releaseId, devices]) => ({ releaseId, devices }))
      .sort((a, b) => b.devices - a.devices)
      .slice(0, limit)
  }
}

t.test('publishing a release builds deltas from the top N installed versions of its name and hardware', async (t) => {
  const fleet = new InMemoryFleet()
  const srv = await startServer({ SLIPWAY_DELTA_TOP_SOURCES: '2' }, undefined, { fleet })
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(600_000)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0', hardware: ['rpi5', 'rpi4'] })
  const v2 = await pushRelease(srv, ci, Buffer.concat([source.subarray(0, 500_000), randomBytes(100_000)]), { version: '1.1.0', hardware: ['rpi5'] })
  const v3 = await pushRelease(srv, ci, Buffer.concat([randomBytes(1000), source.subarray(1000)]), { version: '1.2.0', hardware: ['rpi5'] })
  const cm4 = await pushRelease(srv, ci, randomBytes(600_000), { version: '0.9.0', hardware: ['cm4'] })
  const other = await pushRelease(srv, ci, randomBytes(1000), { name: 'llama', version: '1.0.0', kind: 'model' })
  t.same((await call(srv, op, 'GET', '/v1/deltas')).json.deltas, [], 'no devices yet: nothing planned')

  fleet.add(5, { hardware: 'rpi5', name: 'rootfs', releaseId: v1.id })
  fleet.add(2, { hardware: 'rpi4', name: 'rootfs', releaseId: v2.id }) // rpi4 devices do not get the new release
  fleet.add(3, { hardware: 'rpi5', name: 'rootfs', releaseId: v2.id })
  fleet.add(1, { hardware: 'rpi5', name: 'rootfs', releaseId: v3.id }) // fourth: below the top 2
  fleet.add(9, { hardware: 'cm4', name: 'rootfs', releaseId: cm4.id })
  fleet.add(9, { hardware: 'rpi5', name: 'llama', releaseId: other.id })

  const v4 = await pushRelease(srv, ci, target, { version: '2.0.0', hardware: ['rpi5'] })
  const deadline = Date.now() + 30_000
  let planned: Array<{ id: string; from: string }> = []
  while (planned.length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    planned = (await call(srv, op, 'GET', `/v1/deltas?to=${v4.id}`)).json.deltas
  }
  t.same(planned.map((d) => d.from).sort(), [v1.id, v2.id].sort(), 'deltas from v1 (5 devices) and v2 (3 rpi5 devices)')
  t.same(fleet.asked.at(-1), { name: 'rootfs', hardware: ['rpi5'], limit: 2 })
  for (const d of planned) {
    const done = await waitForDelta(srv, op, d.id, ['ready', 'too-large', 'failed'])
    t.not(done.state, 'failed', `${d.from} → v4 built: ${done.state}`)
  }
  const fromV1 = await waitForDelta(srv, op, planned.find((d) => d.from === v1.id)!.id, ['ready'])
  t.equal(fromV1.offered, true, 'the delta from the most installed version is offered')
  t.same((await call(srv, op, 'GET', '/v1/deltas')).json.deltas.length, 2, 'nothing else was planned')
})

t.test('SLIPWAY_DELTA_TOP_SOURCES=0 plans nothing on publish; on demand still works', async (t) => {
  const fleet = new InMemoryFleet()
  const srv = await startServer({ SLIPWAY_DELTA_TOP_SOURCES: '0' }, undefined, { fleet })
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const { source, target } = imagePair(200_000)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  fleet.add(3, { hardware: 'rpi5', name: 'rootfs', releaseId: v1.id })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })
  await new Promise((r) => setTimeout(r, 300))
  t.same((await call(srv, ci, 'GET', '/v1/deltas')).json.deltas, [])
  t.same(fleet.asked, [], 'the fleet is not even asked')
  t.equal((await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })).status, 202)
})

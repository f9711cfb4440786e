/** The device-boundary tests' fleet: a running rollout that assigned one device an image, and blobs it was never assigned. */
import { randomBytes } from 'node:crypto'
import { call } from './api.js'
import { deviceCall } from './device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from './fleet.js'
import type { TestServer } from './server.js'

export const phases1 = [{ percent: 100, minDevices: 1, soakSeconds: 0 }]

/**
 * rootfs 1.0.0 → 2.0.0 rolled out to 100% of rpi5 devices; `dev` (rpi5) polled and holds
 * its assignment, `other` (rpi4) is outside the rollout; `model` is for other hardware.
 */
export async function assignedFleet(srv: TestServer) {
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  const v2 = await publish(srv, { version: '2.0.0' }, randomBytes(64 * 1024))
  // a model for other hardware that nobody is ever assigned
  const model = await publish(srv, { name: 'llm', kind: 'model', version: '1.0.0', hardware: ['jetson'] }, randomBytes(8192))
  const et = await enrollmentToken(srv)
  const dev = await enroll(srv, et, { installed: [installedOf(v1)] })
  const other = await enroll(srv, et, { hardware: 'rpi4', installed: [installedOf(v1)] })
  const c = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@2.0.0', selector: { hardware: 'rpi5' }, phases: phases1, start: true, reason: 'test' })
  if (c.status !== 201) throw new Error(`rollout: ${c.status} ${c.raw}`)
  const poll = await deviceCall(srv, dev, 'GET', '/v1/device/update')
  if (poll.status !== 200) throw new Error(`expected an assignment, got ${poll.status}`)
  return { op, v1, v2, model, et, dev, other, rolloutId: c.json.rollout.id as string }
}


/**
 * The console's live updates ride the ChangeBus: LiveTopics coalesces a burst without
 * losing its last notice, and with PostgreSQL + Redis a report written through replica
 * A reaches a Server-Sent Events stream served by replica B within a second.
 */
import { join } from 'node:path'
import t from 'tap'
import { InProcessChangeBus } from '../../server/adapters/bus/index.js'
import { announceOn, LiveTopics } from '../../server/domain/live-changes.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer } from '../helpers/server.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('LiveTopics: a burst is coalesced, its last notice kept; topics are separate; unwatching stops', async (t) => {
  const bus = new InProcessChangeBus()
  const live = new LiveTopics(bus, 100, 100)
  await live.start()
  t.teardown(async () => {
    await live.close()
    await bus.close()
  })
  const announce = announceOn(bus)
  let rollout = 0
  let fleet = 0
  const stop = live.watch('rollout:r1', () => rollout++)
  live.watch('fleet', () => fleet++)
  for (let i = 0; i < 50; i++) announce(['rollout:r1'])
  await sleep(20)
  t.equal(rollout, 1, 'the first notice of a burst goes out at once')
  await sleep(300)
  t.equal(rollout, 2, 'the rest of the burst is one more notice, after the coalescing window')
  t.equal(fleet, 0, 'another topic hears nothing')
  announce(['rollout:r1', 'fleet'])
  await sleep(20)
  t.same([rollout, fleet], [3, 1], 'one message can name several topics')
  stop()
  announce(['rollout:r1'])
  await sleep(250)
  t.equal(rollout, 3, 'an unwatched topic calls no one')
})

/** Reads an SSE response: each event's name and when it arrived. */
function readEvents(body: ReadableStream<Uint8Array>): Array<{ event: string; at: number }> {
  const seen: Array<{ event: string; at: number }> = []
  const reader = body.getReader()
  let buf = ''
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
      if (done) return
      buf += Buffer.from(value!).toString('utf8')
      let i: number
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const name = /^event: (.*)$/m.exec(block)
        if (name) seen.push({ event: name[1]!, at: Date.now() })
      }
    }
  })()
  return seen
}

t.test('postgres+redis: a report through replica A shows on an SSE stream of replica B within 1 s', async (t) => {
  const env = await scaleOutEnv(t)
  const a = await startServer(env)
  t.teardown(() => a.close())
  const b = await startServer({ ...env, SLIPWAY_ONLINE_KEY_FILE: join(a.config.keys.dir, 'online.pem') })
  t.teardown(() => b.close())
  const op = await a.token('operator')
  const v1 = await publish(a, { version: '1.0.0' })
  await publish(a, { version: '1.1.0' })
  const dev = await enroll(a, await enrollmentToken(a), { installed: [installedOf(v1)] })
  const created = await call(a, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], start: true, reason: 'live test' })
  t.equal(created.status, 201, created.raw.toString())
  const id = created.json.rollout.id
  t.equal((await deviceCall(a, dev, 'GET', '/v1/device/update')).status, 200, 'the device is assigned')

  const abort = new AbortController()
  t.teardown(() => abort.abort())
  const res = await fetch(`${b.url}/v1/events?topic=rollout:${id}`, { headers: { authorization: `Bearer ${op}` }, signal: abort.signal })
  t.equal(res.headers.get('content-type'), 'text/event-stream')
  const events = readEvents(res.body!)
  while (!events.some((e) => e.event === 'ready')) await sleep(20)
  await sleep(500) // notices of the assignment above have gone by

  for (const [seq, state] of [[1, 'downloading'], [2, 'succeeded']] as const) {
    const sent = Date.now()
    const r = await deviceCall(a, dev, 'POST', '/v1/device/events', { events: [{ id: `00000000-0000-4000-8000-00000000000${seq}`, seq, rolloutId: id, release: { name: 'rootfs', version: '1.1.0' }, state }] })
    t.equal(r.status, 200, r.raw.toString())
    while (!events.some((e) => e.event === 'change' && e.at >= sent) && Date.now() - sent < 3000) await sleep(10)
    const change = events.find((e) => e.event === 'change' && e.at >= sent)
    t.ok(change && change.at - sent < 1000, `report "${state}" on replica A: a change on replica B's stream after ${change ? change.at - sent : 'more than 3000'} ms`)
    await sleep(300)
  }
  const view = await call(b, op, 'GET', `/v1/rollouts/${id}`)
  t.equal(view.json.totals.healthy, 1, 'and replica B then serves the new counts')
})

t.test('key-bound enrollment and certificate revocation reach the fleet pages live (embedded)', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const abort = new AbortController()
  t.teardown(() => abort.abort())
  const res = await fetch(`${srv.url}/v1/events?topic=fleet`, { headers: { authorization: `Bearer ${op}` }, signal: abort.signal })
  const events = readEvents(res.body!)
  while (!events.some((e) => e.event === 'ready')) await sleep(20)
  await sleep(1200) // the fleet topic coalesces for 1 s: start clean

  const changeAfter = async (sent: number) => {
    while (!events.some((e) => e.event === 'change' && e.at >= sent) && Date.now() - sent < 3000) await sleep(10)
    return events.find((e) => e.event === 'change' && e.at >= sent)
  }
  const token = await enrollmentToken(srv)
  await sleep(1200) // creating the token is announced too
  let sent = Date.now()
  const dev = await enroll(srv, token)
  t.ok(dev.serial, 'the device enrolled with a key (a certificate serial)')
  t.ok(await changeAfter(sent), 'the enrollment is announced on the fleet topic')

  await sleep(1200)
  sent = Date.now()
  const revoked = await call(srv, await srv.token('admin'), 'POST', `/v1/device-certificates/${dev.serial}/revoke`, { reason: 'lost device' })
  t.equal(revoked.status, 200, revoked.raw.toString())
  t.ok(await changeAfter(sent), 'the revocation is announced on the fleet topic')
})

import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DeviceApi, HttpClient, Outbox, Reporter, silentLog, type DeviceEvent } from '../../../client-sdk/src/index.js'
import type { Unsequenced } from '../../../client-sdk/src/report/outbox.js'
import { serve } from './http-fixtures.js'

async function tmp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-report-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const ev = (id: string, state: DeviceEvent['state'] = 'downloading'): Unsequenced => ({
  kind: 'event',
  body: { id, rolloutId: 'ro-1', release: { name: 'os', version: '2' }, state, at: new Date().toISOString() },
})

/** A device API that answers events per `mode` and records what it accepted. */
async function eventServer(t: Test) {
  const state = { mode: 'ok' as 'ok' | 'down' | 'reject-bad', accepted: [] as any[], health: [] as any[], batches: 0 }
  const srv = await serve((req, res, body) => {
    if (state.mode === 'down') return void res.writeHead(503).end('<html>maintenance</html>')
    const json = JSON.parse(body.toString())
    if (req.url === '/v1/device/health') {
      state.health.push(json)
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}')
    }
    state.batches++
    if (state.mode === 'reject-bad' && json.events.some((e: any) => e.rolloutId === 'bad'))
      return void res.writeHead(409, { 'content-type': 'application/json' }).end('{"error":{"code":"DEVICE_NOT_IN_ROLLOUT","message":"no"}}')
    state.accepted.push(...json.events)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: json.events.length, duplicates: 0, stale: 0 }))
  })
  t.teardown(srv.close)
  const http = new HttpClient()
  t.teardown(() => http.close())
  return { state, api: new DeviceApi(new URL(srv.url), http, () => 'sld_test') }
}

t.test('offline: reports queue on disk, survive a restart, and flush in seq order', async (t) => {
  const dir = await tmp(t)
  const { state, api } = await eventServer(t)
  state.mode = 'down'
  const r1 = new Reporter(await Outbox.open(dir), api, silentLog)
  await r1.report(ev('e1'))
  await r1.report(ev('e2', 'installing'))
  await r1.report({ kind: 'health', body: { id: 'h1', release: { name: 'os', version: '2' }, bootOk: true, checks: [], at: new Date().toISOString() } })
  await r1.report(ev('e3', 'succeeded'))
  t.equal(state.accepted.length, 0)
  t.equal((await readdir(dir)).filter((n) => n.endsWith('.json') && n !== 'seq.json').length, 4)
  // "reboot": a new outbox on the same folder
  state.mode = 'ok'
  const box = await Outbox.open(dir)
  const r2 = new Reporter(box, api, silentLog)
  const f = await r2.flush()
  t.same(f, { sent: 4, dropped: 0, left: 0 })
  t.same(state.accepted.map((e) => e.id), ['e1', 'e2', 'e3'])
  t.same(state.accepted.map((e) => e.seq), [1, 2, 4], 'seq is the order of creation; the health report took 3')
  t.equal(state.health[0].seq, 3)
  t.equal(box.size, 0)
  // seq keeps growing across restarts, never reused
  await r2.report(ev('e4'))
  t.equal(state.accepted.at(-1).seq, 5)
  const r3 = new Reporter(await Outbox.open(dir), api, silentLog)
  await r3.report(ev('e5'))
  t.equal(state.accepted.at(-1).seq, 6)
})

t.test('the same id is queued once', async (t) => {
  const { state, api } = await eventServer(t)
  state.mode = 'down'
  const box = await Outbox.open(await tmp(t))
  const r = new Reporter(box, api, silentLog)
  await r.report(ev('same'))
  await r.report(ev('same'))
  t.equal(box.size, 1)
})

t.test('a 4xx drops only the rejected event; a 5xx keeps everything for later', async (t) => {
  const { state, api } = await eventServer(t)
  const box = await Outbox.open(await tmp(t))
  const r = new Reporter(box, api, silentLog)
  state.mode = 'down'
  await r.report(ev('a'))
  await r.report({ ...ev('b'), body: { ...ev('b').body, rolloutId: 'bad' } } as Unsequenced)
  await r.report(ev('c'))
  t.equal(box.size, 3, '5xx: kept')
  state.mode = 'reject-bad'
  const f = await r.flush()
  t.same(f, { sent: 2, dropped: 1, left: 0 })
  t.same(state.accepted.map((e) => e.id), ['a', 'c'])
  t.equal(box.size, 0)
})

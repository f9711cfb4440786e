/**
 * The operator rollout API over real HTTP: bad input with stable codes and nothing
 * stored, rollback refused across a securityVersion raise (and an automatic breach
 * that can only pause), a metric bound relative to the previous release, a breach
 * acted on within 2 seconds of the report that crossed the line, and an audit log
 * that verifies.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish, type EnrolledDevice } from '../helpers/fleet.js'
import { startServer, type TestServer } from '../helpers/server.js'

const phases1 = [{ percent: 100, minDevices: 1, soakSeconds: 0 }]

async function assigned(srv: TestServer, d: EnrolledDevice): Promise<{ rolloutId: string; version: string }> {
  const p = await deviceCall(srv, d, 'GET', '/v1/device/update')
  if (p.status !== 200) throw new Error(`expected an assignment, got ${p.status}`)
  return { rolloutId: p.json.assignment.signed.rolloutId, version: p.json.assignment.signed.release.version }
}

const report = (srv: TestServer, d: EnrolledDevice, rolloutId: string, version: string, seq: number, state: string) =>
  deviceCall(srv, d, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq, rolloutId, release: { name: 'rootfs', version }, state }] })

t.test('bad input: stable codes, nothing stored', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  await publish(srv, { version: '1.0.0' })
  const count = async () => (await call(srv, op, 'GET', '/v1/rollouts')).json.rollouts.length

  const cases: Array<[unknown, number, string]> = [
    [{ release: 'rootfs@9.9.9', phases: phases1, reason: 'x' }, 404, 'RELEASE_NOT_FOUND'],
    [{ release: 'rootfs@1.0.0', phases: [{ percent: 10 }, { percent: 5 }], reason: 'x' }, 400, 'ROLLOUT_PHASES_NOT_INCREASING'],
    [{ release: 'rootfs@1.0.0', phases: [{ percent: 10 }, { percent: 10 }], reason: 'x' }, 400, 'ROLLOUT_PHASES_NOT_INCREASING'],
    [{ release: 'rootfs@1.0.0', phases: [{ percent: 0 }], reason: 'x' }, 400, 'ROLLOUT_PERCENT_OUT_OF_RANGE'],
    [{ release: 'rootfs@1.0.0', phases: [{ percent: 150 }], reason: 'x' }, 400, 'ROLLOUT_PERCENT_OUT_OF_RANGE'],
    [{ release: 'rootfs@1.0.0', phases: [], reason: 'x' }, 400, 'VALIDATION_FAILED'],
    [{ release: 'rootfs@1.0.0', phases: phases1, gate: { confidence: 2 } }, 400, 'ROLLOUT_GATE_INVALID'],
    [{ release: 'rootfs@1.0.0', phases: phases1, breachAction: 'explode' }, 400, 'VALIDATION_FAILED'],
  ]
  for (const [body, status, code] of cases) {
    const r = await call(srv, op, 'POST', '/v1/rollouts', body)
    t.equal(r.status, status, code)
    t.equal(r.json.error.code, code)
  }
  t.equal(await count(), 0, 'no rollout was stored')

  const unknown = await call(srv, op, 'GET', '/v1/rollouts/nope')
  t.equal(unknown.status, 404)
  t.equal(unknown.json.error.code, 'ROLLOUT_NOT_FOUND')
  const unknownAct = await call(srv, op, 'POST', '/v1/rollouts/nope/pause', { reason: 'x' })
  t.equal(unknownAct.json.error.code, 'ROLLOUT_NOT_FOUND')

  // a selector matching nothing is allowed; the dry run says 0
  const nobody = { release: 'rootfs@1.0.0', selector: { group: 'nobody' }, phases: [{ percent: 10 }, { percent: 100 }], reason: 'x' }
  const dry = await call(srv, op, 'POST', '/v1/rollouts', { ...nobody, dryRun: true })
  t.equal(dry.status, 200)
  t.same(dry.json.phases.map((p: any) => p.devices), [0, 0])
  t.equal(dry.json.matching, 0)
  const refused = await call(srv, op, 'POST', '/v1/rollouts', nobody)
  t.equal(refused.status, 422, 'a selector matching no device is refused without allowEmpty')
  t.equal(refused.json.error.code, 'ROLLOUT_SELECTS_NO_DEVICE')
  t.equal(await count(), 0, 'the refused rollout was not stored')
  const created = await call(srv, op, 'POST', '/v1/rollouts', { ...nobody, allowEmpty: true })
  t.equal(created.status, 201)
  t.equal(created.json.rollout.state, 'draft')
  const id = created.json.rollout.id

  const noReason = await call(srv, op, 'POST', `/v1/rollouts/${id}/start`, {})
  t.equal(noReason.status, 400, 'an action needs a reason')
  const ci = await call(srv, await srv.token('ci'), 'POST', `/v1/rollouts/${id}/start`, { reason: 'x' })
  t.equal(ci.status, 403, 'CI tokens do not run rollouts')
  t.equal((await call(srv, op, 'POST', `/v1/rollouts/${id}/start`, { reason: 'go' })).json.rollout.state, 'running')
  const next = await call(srv, op, 'POST', `/v1/rollouts/${id}/promote`, { reason: 'skip the canary' })
  t.same([next.json.rollout.state, next.json.rollout.phase], ['running', 1], 'promote moves to the next phase')
  const done = await call(srv, op, 'POST', `/v1/rollouts/${id}/promote`, { reason: 'ship it' })
  t.equal(done.json.rollout.state, 'completed', 'promote on the last phase completes')
  const resume = await call(srv, op, 'POST', `/v1/rollouts/${id}/resume`, { reason: 'x' })
  t.equal(resume.status, 409)
  t.equal(resume.json.error.code, 'ROLLOUT_ILLEGAL_TRANSITION')
  t.match(resume.json.error.message, /cannot resume a rollout that is completed/)

  const audit = (await call(srv, op, 'GET', '/v1/audit')).json.entries
  t.same(audit.map((e: any) => e.action), ['rollout.create', 'rollout.start', 'rollout.promote', 'rollout.promote'])
  t.ok(verifyChain(audit).ok, 'the audit chain verifies')
})

t.test('rollback across a securityVersion raise is refused; an automatic breach then pauses', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0', securityVersion: 1 })
  await publish(srv, { version: '2.0.0', securityVersion: 2 })
  const et = await enrollmentToken(srv)
  const d = await enroll(srv, et, { installed: [installedOf(v1)] })
  const c = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@2.0.0', phases: phases1, gate: { maxFailures: 1 }, breachAction: 'rollback', start: true, reason: 'security fix' })
  const id = c.json.rollout.id
  const a = await assigned(srv, d)
  const rb = await call(srv, op, 'POST', `/v1/rollouts/${id}/rollback`, { reason: 'try' })
  t.equal(rb.status, 409)
  t.equal(rb.json.error.code, 'ROLLBACK_SECURITY_VERSION')
  t.match(rb.json.error.message, /securityVersion 2.*can only be paused or aborted/)
  await report(srv, d, a.rolloutId, a.version, 1, 'failed')
  const deadline = Date.now() + 5000
  let r: any
  do {
    await new Promise((res) => setTimeout(res, 50))
    r = (await call(srv, op, 'GET', `/v1/rollouts/${id}`)).json.rollout
  } while (r.state === 'running' && Date.now() < deadline)
  t.equal(r.state, 'paused', 'the breach paused it instead')
  t.match(r.stateReason, /rollback impossible/)
})

t.test('a breach acts within 2 seconds; a metric worse than the previous release breaches', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  await publish(srv, { version: '1.2.0' })
  const et = await enrollmentToken(srv)
  const devices = await Promise.all(Array.from({ length: 8 }, () => enroll(srv, et, { installed: [installedOf(v1)] })))

  // baseline: devices on 1.0.0 answer in ~500 ms
  let seq = 100
  for (const d of devices)
    await deviceCall(srv, d, 'POST', '/v1/device/health', { id: randomUUID(), seq: seq++, release: { name: 'rootfs', version: '1.0.0' }, bootOk: true, checks: [], metrics: { inference_p95_ms: 500 } })

  // 1.1.0: 2 s breach on the report that crosses maxFailures
  const c = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: phases1, gate: { maxFailures: 2, minSample: 50 }, start: true, reason: 'fast breach' })
  const id = c.json.rollout.id
  const a0 = await assigned(srv, devices[0]!)
  const a1 = await assigned(srv, devices[1]!)
  await assigned(srv, devices[7]!) // assigned, but it never starts before the pause
  await report(srv, devices[0]!, a0.rolloutId, a0.version, 1, 'failed')
  await new Promise((res) => setTimeout(res, 500))
  t.equal((await call(srv, op, 'GET', `/v1/rollouts/${id}`)).json.rollout.state, 'running', 'one failure: still below the limit')
  const crossed = Date.now()
  await report(srv, devices[1]!, a1.rolloutId, a1.version, 1, 'rolled-back')
  let state = 'running'
  while (state === 'running' && Date.now() - crossed < 5000) {
    await new Promise((res) => setTimeout(res, 20))
    state = (await call(srv, op, 'GET', `/v1/rollouts/${id}`)).json.rollout.state
  }
  const took = Date.now() - crossed
  t.equal(state, 'paused')
  t.ok(took < 2000, `paused ${took} ms after the report that crossed the line`)
  t.equal((await deviceCall(srv, devices[7]!, 'GET', '/v1/device/update')).status, 204, 'the pause withdraws the assignment from a device that had not started')
  t.equal((await deviceCall(srv, devices[0]!, 'GET', '/v1/device/update')).status, 200, 'a device that started still finishes')
  await call(srv, op, 'POST', `/v1/rollouts/${id}/abort`, { reason: 'bad build' })

  // 1.2.0: healthy, but 1.9× slower than what 1.0.0 devices report
  const m = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.2.0',
    phases: phases1,
    gate: { minSample: 3, metrics: [{ name: 'inference_p95_ms', maxRatioToPrevious: 1.2 }] },
    start: true,
    reason: 'metric gate',
  })
  const mid = m.json.rollout.id
  for (const d of devices.slice(2, 5)) t.equal((await assigned(srv, d)).rolloutId, mid)
  for (const [i, d] of devices.slice(2, 5).entries()) {
    if (i === 2) t.equal((await call(srv, op, 'GET', `/v1/rollouts/${mid}`)).json.rollout.state, 'running', 'two slow devices are below the minimum sample')
    await deviceCall(srv, d, 'POST', '/v1/device/health', { id: randomUUID(), seq: seq++, rolloutId: mid, release: { name: 'rootfs', version: '1.2.0' }, bootOk: true, checks: [], metrics: { inference_p95_ms: 950 } })
  }
  let view: any
  const deadline = Date.now() + 5000
  do {
    await new Promise((res) => setTimeout(res, 50))
    view = (await call(srv, op, 'GET', `/v1/rollouts/${mid}`)).json
  } while (view.rollout.state === 'running' && Date.now() < deadline)
  t.equal(view.rollout.state, 'paused')
  t.match(view.rollout.stateReason, /inference_p95_ms median 950 is 1\.90× the previous release's 500/)
})

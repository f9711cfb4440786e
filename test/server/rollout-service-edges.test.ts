/**
 * RolloutService driven directly on the embedded SQLite repositories, with a fake clock
 * (issue 18: the fleet area's mutants of rollout-service.ts run against this file, in
 * a couple of seconds, where only the PostgreSQL + HTTP scenario reached it before).
 * Every transition is checked with what it writes (the rollout, its audit entry), what
 * it tells (the transition listener, the cache invalidation) and what it refuses.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openRepositories } from '../../server/adapters/db/index.js'
import type { Release } from '../../server/domain/model.js'
import type { Device, Gate, InstalledRelease, MemberCounts, Phase, Rollout, RolloutMember } from '../../server/domain/fleet-model.js'
import type { FleetRepositories, RolloutRepository } from '../../server/domain/ports/fleet-repositories.js'
import { FleetCaches } from '../../server/domain/rollouts/caches.js'
import { cohortPosition, phaseOf } from '../../server/domain/rollouts/cohort.js'
import { GATE_PRESETS, healthyToPromote } from '../../server/domain/rollouts/gate-presets.js'
import { DEFAULT_GATE } from '../../server/domain/rollouts/rollout-input.js'
import { RESERVATION_SECONDS, RolloutService } from '../../server/domain/rollouts/rollout-service.js'

type Repos = Awaited<ReturnType<typeof openRepositories>>

const dir = mkdtempSync(join(tmpdir(), 'slipway-rollout-svc-'))
const repos: Repos = await openRepositories({ sqlitePath: join(dir, 'slipway.db') })
t.teardown(async () => {
  await repos.close()
  rmSync(dir, { recursive: true, force: true })
})

const T0 = Date.parse('2026-06-01T00:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
const ZERO: MemberCounts = { assigned: 0, healthy: 0, failed: 0, silent: 0, pending: 0, reverted: 0 }
const ONE_PHASE: Phase[] = [{ percent: 100, minDevices: 1, soakSeconds: 0 }]

/** A service over the shared database with its own clock, listener and cache spy. */
function world(t: Test, fleet: FleetRepositories = repos.fleet) {
  const clock = { ms: T0 }
  const heard: Array<[string, string, string]> = []
  const caches = new FleetCaches(repos.releases, repos.fleet.rollouts)
  let invalidations = 0
  const invalidate = caches.invalidate.bind(caches)
  caches.invalidate = () => {
    invalidations++
    invalidate()
  }
  const svc = new RolloutService(fleet, repos.releases, caches, (r, action) => heard.push([r.id, r.state, action]), () => new Date(clock.ms))
  const tag = randomUUID().slice(0, 8)
  const hw = `hw-${tag}`
  let seq = 0
  const all: Device[] = []

  async function release(over: Partial<Release> = {}): Promise<Release> {
    const r: Release = {
      id: randomUUID(),
      name: `rs-${tag}`,
      version: `1.0.${seq++}`,
      kind: 'os-image',
      hardware: [hw],
      sha256: randomUUID().replace(/-/g, '').padEnd(64, '0'),
      length: 1000,
      securityVersion: 1,
      provenance: {},
      metadata: null,
      createdBy: 'test',
      createdAt: iso(T0),
      ...over,
    }
    t.equal(await repos.releases.insert(r), 'created')
    return r
  }

  async function devices(n: number, over: Partial<Device> = {}): Promise<Device[]> {
    const out: Device[] = []
    await repos.fleet.transaction(async (tx) => {
      for (let i = 0; i < n; i++) {
        const id = randomUUID()
        const d: Device = { id, hardwareId: `hwid-${id}`, hardware: hw, group: 'field', tags: [], credentialHash: `h-${id}`, lastSeq: -1, lastState: null, lastReportAt: null, lastSeenAt: null, createdAt: iso(T0), updatedAt: iso(T0), ...over }
        await tx.devices.insert(d)
        out.push(d)
        all.push(d)
      }
    })
    return out
  }

  async function member(rolloutId: string, over: Partial<RolloutMember> & { assignedAgo?: number } = {}): Promise<string> {
    const [d] = await devices(1)
    const { assignedAgo = 0, ...rest } = over
    const m: RolloutMember = {
      rolloutId,
      deviceId: d!.id,
      phase: 0,
      previous: null,
      state: 'assigned',
      stateSeq: 0,
      reason: null,
      healthOk: null,
      metrics: null,
      reverted: false,
      assignedAt: iso(clock.ms - assignedAgo * 1000),
      reportedAt: null,
      ...rest,
    }
    t.equal(await repos.fleet.members.insert(m), 'created')
    return d!.id
  }

  const audit = async (id: string) => (await repos.fleet.audit.list({ subject: `rollout:${id}`, limit: 100 })).map(({ actor, action, reason, before, after, at }) => ({ actor, action, reason, before, after, at }))

  return { svc, clock, heard, hw, tag, all, release, devices, member, audit, invalidations: () => invalidations }
}

/** A running rollout of a fresh release (created and started through the service). */
async function running(w: ReturnType<typeof world>, opts: { phases?: Phase[]; gate?: Partial<Gate>; breachAction?: 'pause' | 'rollback'; release?: Release } = {}) {
  const rel = opts.release ?? (await w.release())
  const r = await w.svc.create(
    { release: rel.id, phases: opts.phases ?? ONE_PHASE, gate: opts.gate ?? {}, allowEmpty: true, ...(opts.breachAction && { breachAction: opts.breachAction }) },
    'token:op',
    null,
  )
  const started = await w.svc.act(r.id, 'start', 'token:op', null)
  return { rel, r: started }
}

const prev = (version: string, securityVersion: number): InstalledRelease => ({ name: 'x', version, sha256: 'a'.repeat(64), securityVersion })

t.test('create: a draft with the defaults, audited and announced', async (t) => {
  const w = world(t)
  const rel = await w.release()
  await w.devices(2)
  const r = await w.svc.create({ release: `${rel.name}@${rel.version}`, phases: ONE_PHASE }, 'token:op', 'first')
  t.same(r, {
    id: r.id,
    releaseId: rel.id,
    selector: {},
    phases: ONE_PHASE,
    gate: DEFAULT_GATE,
    breachAction: 'pause',
    state: 'draft',
    phase: 0,
    phaseStartedAt: null,
    stateReason: null,
    version: 1,
    createdBy: 'token:op',
    createdAt: iso(T0),
    updatedAt: iso(T0),
  })
  t.same(await w.svc.get(r.id), r, 'stored as returned')
  t.same(await w.audit(r.id), [{ actor: 'token:op', action: 'rollout.create', reason: 'first', before: null, after: { state: 'draft', phase: 0, version: 1 }, at: iso(T0) }])
  t.same(w.heard, [[r.id, 'draft', 'rollout.create']], 'the listener hears the creation')
  t.equal(w.invalidations(), 0, 'a draft is in no cache')

  const strict = await w.svc.create({ release: rel.id, phases: ONE_PHASE, gatePreset: 'strict', gate: { minSample: 7 }, breachAction: 'rollback', selector: { group: 'field' } }, 'token:b', null)
  t.same(strict.gate, { ...GATE_PRESETS.strict, minSample: 7 }, 'a preset, its fields overridden by the gate given')
  t.equal(strict.breachAction, 'rollback')
  t.same(strict.selector, { group: 'field' })
  t.not(strict.id, r.id, 'a new id each time')
  t.same((await w.audit(strict.id))[0]?.reason, null)
  const plain = await w.svc.create({ release: rel.id, phases: ONE_PHASE, gate: { minSample: 3 } }, 'token:b', null)
  t.same(plain.gate, { ...DEFAULT_GATE, minSample: 3 }, 'no preset: the defaults under the gate given')
  t.equal(w.svc instanceof RolloutService, true)
})

t.test('resolveRelease: an id or name@version; anything else is RELEASE_NOT_FOUND', async (t) => {
  const w = world(t)
  const rel = await w.release()
  t.equal((await w.svc.resolveRelease(rel.id)).id, rel.id)
  t.equal((await w.svc.resolveRelease(`${rel.name}@${rel.version}`)).id, rel.id)
  await t.rejects(w.svc.resolveRelease(`${rel.name}@9.9.9`), { code: 'RELEASE_NOT_FOUND', message: `no release ${rel.name}@9.9.9 (give a release id or name@version)` })
  await t.rejects(w.svc.resolveRelease(`${rel.name}`), { code: 'RELEASE_NOT_FOUND' })
  // an '@' in first place is no separator: the whole ref is an id
  const odd = await w.release({ id: `@${w.tag}` })
  t.equal((await w.svc.resolveRelease(`@${w.tag}`)).id, odd.id)
  const named = await w.release({ name: `a@${w.tag}`, version: '2.0.0' })
  t.equal((await w.svc.resolveRelease(`a@${w.tag}@2.0.0`)).id, named.id, 'the last @ separates the version')
  await t.rejects(w.svc.create({ release: 'nope@1', phases: ONE_PHASE, allowEmpty: true }, 'token:op', null), { code: 'RELEASE_NOT_FOUND' })
})

t.test('create refuses before writing anything', async (t) => {
  const w = world(t)
  const rel = await w.release()
  await w.devices(1)
  await t.rejects(w.svc.create({ release: rel.id, phases: ONE_PHASE, selector: { group: 'nobody' } }, 'token:op', null), {
    code: 'ROLLOUT_SELECTS_NO_DEVICE',
    message: 'the selector matches no device now; give allowEmpty: true (--allow-empty) to create it anyway (devices that enroll later join)',
    details: { selector: { group: 'nobody' } },
  })
  await t.rejects(w.svc.create({ release: rel.id, phases: [] }, 'token:op', null), { code: 'ROLLOUT_PHASES_INVALID' })
  await t.rejects(w.svc.create({ release: rel.id, phases: ONE_PHASE, gate: { maxFailureRate: 2 } }, 'token:op', null), { code: 'ROLLOUT_GATE_INVALID' })
  const id = randomUUID()
  // an unknown reservation is named before the empty selector is
  await t.rejects(w.svc.create({ release: rel.id, phases: ONE_PHASE, id, selector: { group: 'nobody' } }, 'token:op', null), {
    code: 'ROLLOUT_RESERVATION_UNKNOWN',
    message: `rollout id ${id} is not reserved (unknown, already used, or older than ${RESERVATION_SECONDS} s): run the dry run again`,
    details: { id },
  })
  t.same(w.heard, [], 'nothing announced')
  t.same((await w.svc.list({ limit: 1000 })).filter((r) => r.releaseId === rel.id), [], 'nothing stored')
  const empty = await w.svc.create({ release: rel.id, phases: ONE_PHASE, selector: { group: 'nobody' }, allowEmpty: true }, 'token:op', null)
  t.equal(empty.state, 'draft', 'allowEmpty creates it anyway')
})

t.test('the reservation is taken inside the transaction', async (t) => {
  // a reservation that looked present but is gone by the commit (another create took it)
  const fleet: FleetRepositories = { ...repos.fleet, reservations: Object.assign(Object.create(repos.fleet.reservations), { exists: async () => true }) }
  const w = world(t, fleet)
  const rel = await w.release()
  await w.devices(1)
  const id = randomUUID()
  await t.rejects(w.svc.create({ release: rel.id, phases: ONE_PHASE, id }, 'token:op', null), { code: 'ROLLOUT_RESERVATION_UNKNOWN', details: { id } })
  await t.rejects(w.svc.get(id), { code: 'ROLLOUT_NOT_FOUND' }, 'not created')
  t.same(await w.audit(id), [], 'nor audited')
})

t.test('dryRun: counts each phase under a reserved id that create then uses', async (t) => {
  const w = world(t)
  const rel = await w.release()
  const devs = await w.devices(12)
  await w.devices(2, { hardware: `${w.hw}-other` })
  const phases: Phase[] = [
    { percent: 25, minDevices: 2, soakSeconds: 0 },
    { percent: 60, minDevices: 4, soakSeconds: 0 },
    { percent: 100, minDevices: 0, soakSeconds: 0 },
  ]
  const gate = { maxFailureRate: 0.5, minSample: 3 }
  const dry = await w.svc.dryRun({ release: `${rel.name}@${rel.version}`, phases, gate }, 'token:op')
  const perPhase = phases.map(() => 0)
  for (const d of devs) {
    const k = phaseOf(cohortPosition(dry.rolloutId, d.id), phases)
    for (let i = k; i >= 0 && i < phases.length; i++) perPhase[i]!++
  }
  t.same(dry, {
    dryRun: true,
    rolloutId: dry.rolloutId,
    reservedUntil: iso(T0 + RESERVATION_SECONDS * 1000),
    release: { id: rel.id, name: rel.name, version: rel.version },
    selector: {},
    gate: { ...DEFAULT_GATE, ...gate },
    matching: 12,
    phases: phases.map((p, i) => ({ index: i, percent: p.percent, devices: perPhase[i], healthyToPromote: healthyToPromote(p, { ...DEFAULT_GATE, ...gate }) })),
  })
  t.ok(perPhase[0]! < 12, 'the first phase reaches a part of the fleet')
  t.ok(await repos.fleet.reservations.exists(dry.rolloutId, iso(T0 + RESERVATION_SECONDS * 1000 - 1)), 'reserved for an hour')
  t.notOk(await repos.fleet.reservations.exists(dry.rolloutId, iso(T0 + RESERVATION_SECONDS * 1000)), 'and no longer')
  t.same(w.heard, [], 'a dry run announces nothing')

  w.clock.ms += 60_000
  const again = await w.svc.dryRun({ release: rel.id, phases, gate, id: dry.rolloutId }, 'token:op')
  t.equal(again.rolloutId, dry.rolloutId, 'a dry run again under the reserved id')
  t.same(again.phases, dry.phases, 'gives the same cohorts')
  t.equal(again.reservedUntil, iso(T0 + 60_000 + RESERVATION_SECONDS * 1000))
  t.ok(await repos.fleet.reservations.exists(dry.rolloutId, iso(T0 + RESERVATION_SECONDS * 1000 - 1)), 'and leaves the reservation as it was')
  t.notOk(await repos.fleet.reservations.exists(dry.rolloutId, iso(T0 + RESERVATION_SECONDS * 1000)), 'not extended')

  const r = await w.svc.create({ release: rel.id, phases, gate, id: dry.rolloutId }, 'token:op', 'as dry-run')
  t.equal(r.id, dry.rolloutId, 'create takes the reserved id')
  const v = await w.svc.view(r.id, { reach: true })
  t.same(v.phases.map((p) => p.reach), dry.phases.map((p) => p.devices), 'and reaches what the dry run counted')
  await t.rejects(w.svc.dryRun({ release: rel.id, phases, id: dry.rolloutId }, 'token:op'), { code: 'ROLLOUT_RESERVATION_UNKNOWN' }, 'the reservation is used up')
  await t.rejects(w.svc.dryRun({ release: rel.id, phases, id: randomUUID() }, 'token:op'), { code: 'ROLLOUT_RESERVATION_UNKNOWN' })

  const late = await w.svc.dryRun({ release: rel.id, phases }, 'token:op')
  w.clock.ms += RESERVATION_SECONDS * 1000
  await t.rejects(w.svc.create({ release: rel.id, phases, id: late.rolloutId }, 'token:op', null), { code: 'ROLLOUT_RESERVATION_UNKNOWN' }, 'an hour later it has expired')
})

t.test('the reach: hardware, group, tags and saved groups', async (t) => {
  const w = world(t)
  const rel = await w.release({ hardware: [`${w.hw}-a`, `${w.hw}-b`] })
  await w.devices(3, { hardware: `${w.hw}-a`, group: 'g1', tags: ['x'] })
  await w.devices(2, { hardware: `${w.hw}-b`, group: 'g2', tags: ['x', 'y'] })
  await w.devices(1, { hardware: `${w.hw}-c`, group: 'g1', tags: ['x'] })
  const matching = async (selector: Rollout['selector']) => (await w.svc.dryRun({ release: rel.id, phases: ONE_PHASE, selector }, 'token:op')).matching
  t.equal(await matching({}), 5, 'every device of the release hardware')
  t.equal(await matching({ hardware: `${w.hw}-a` }), 3)
  t.equal(await matching({ hardware: `${w.hw}-c` }), 0, 'hardware the release is not built for')
  t.equal(await matching({ group: 'g2' }), 2)
  t.equal(await matching({ tags: ['y'] }), 2, 'a tag some devices lack')
  t.equal(await matching({ tags: ['x'], group: 'g1' }), 3)

  const now = iso(T0)
  await repos.fleet.groups.upsert({ name: `sg-${w.tag}`, selector: { group: 'g1', tags: ['x'] }, description: null, createdBy: 'test', createdAt: now, updatedAt: now })
  await repos.fleet.groups.upsert({ name: `bare-${w.tag}`, selector: { group: 'g2' }, description: null, createdBy: 'test', createdAt: now, updatedAt: now })
  const sel = async (selector: Rollout['selector']) => (await w.svc.dryRun({ release: rel.id, phases: ONE_PHASE, selector }, 'token:op')).selector
  t.same(await sel({ savedGroup: `sg-${w.tag}` }), { group: 'g1', tags: ['x'], savedGroup: `sg-${w.tag}` }, "a saved group's fields")
  t.same(await sel({ savedGroup: `sg-${w.tag}`, tags: ['x', 'z'] }), { group: 'g1', tags: ['x', 'z'], savedGroup: `sg-${w.tag}` }, 'tags add up, once each')
  t.same(await sel({ savedGroup: `sg-${w.tag}`, group: 'g2' }), { group: 'g2', tags: ['x'], savedGroup: `sg-${w.tag}` }, "the selector's own fields win")
  t.same(await sel({ savedGroup: `bare-${w.tag}` }), { group: 'g2', savedGroup: `bare-${w.tag}` }, 'no tags on either side: none')
  t.same(await sel({ savedGroup: `bare-${w.tag}`, tags: ['y'] }), { group: 'g2', tags: ['y'], savedGroup: `bare-${w.tag}` })
  t.equal(await matching({ savedGroup: `sg-${w.tag}` }), 3, 'a saved group selects what it says')
  await t.rejects(w.svc.dryRun({ release: rel.id, phases: ONE_PHASE, selector: { savedGroup: `none-${w.tag}` } }, 'token:op'), {
    code: 'DEVICE_GROUP_NOT_FOUND',
    message: `no dynamic group none-${w.tag}`,
  })
})

t.test('the reach reads the fleet in pages of 2000', async (t) => {
  const w = world(t)
  const rel = await w.release()
  const devs = await w.devices(2003)
  const phases: Phase[] = [
    { percent: 50, minDevices: 0, soakSeconds: 0 },
    { percent: 100, minDevices: 0, soakSeconds: 0 },
  ]
  const dry = await w.svc.dryRun({ release: rel.id, phases }, 'token:op')
  t.equal(dry.matching, 2003, 'every page')
  const first = devs.filter((d) => phaseOf(cohortPosition(dry.rolloutId, d.id), phases) === 0).length
  t.same(dry.phases.map((p) => p.devices), [first, 2003], 'phases count cumulatively')
})

t.test('view: members per phase, totals, the gate only while live, reach on request', async (t) => {
  const w = world(t)
  const phases: Phase[] = [
    { percent: 30, minDevices: 1, soakSeconds: 0 },
    { percent: 60, minDevices: 2, soakSeconds: 0 },
    { percent: 100, minDevices: 3, soakSeconds: 0 },
  ]
  const gate = { maxFailureRate: 0.5, minSample: 50, silentAfterSeconds: 600 }
  const { rel, r } = await running(w, { phases, gate })
  await w.member(r.id, { state: 'succeeded' })
  await w.member(r.id, { state: 'failed' })
  await w.member(r.id, { assignedAgo: 599 }) // pending
  await w.member(r.id, { assignedAgo: 601 }) // silent: counts as failed
  await w.member(r.id, { state: 'succeeded', reverted: true })
  await w.member(r.id, { phase: 1, state: 'succeeded' })
  await w.member(r.id, { phase: 1, state: 'succeeded' })
  await w.member(r.id, { phase: 1, state: 'succeeded', healthOk: false })
  await w.member(r.id, { phase: 1, state: 'rolled-back' })
  await w.member(r.id, { phase: 1, assignedAgo: 10 })
  const p0 = { assigned: 5, healthy: 2, failed: 2, silent: 1, pending: 1, reverted: 1 }
  const p1 = { assigned: 5, healthy: 2, failed: 2, silent: 0, pending: 1, reverted: 0 }
  const v = await w.svc.view(r.id)
  t.same(v.rollout, r)
  t.same(v.release, { id: rel.id, name: rel.name, version: rel.version, securityVersion: rel.securityVersion })
  const g = { ...DEFAULT_GATE, ...gate }
  t.same(v.phases, [
    { index: 0, ...phases[0], healthyToPromote: healthyToPromote(phases[0]!, g), members: p0 },
    { index: 1, ...phases[1], healthyToPromote: healthyToPromote(phases[1]!, g), members: p1 },
    { index: 2, ...phases[2], healthyToPromote: healthyToPromote(phases[2]!, g), members: ZERO },
  ])
  t.same(v.totals, { assigned: 10, healthy: 4, failed: 4, silent: 1, pending: 2, reverted: 1 }, 'the totals add up every field')
  t.match(v.gate, { verdict: 'wait', figures: { decided: 8, failureRate: 0.5, healthyNeeded: 0, metrics: [] } }, 'the gate judges the totals')
  t.equal(v.gate?.reason, '42 more reports needed for a sample of 50')

  w.clock.ms += 2_000 // the pending phase-0 member passes its silent deadline
  t.match((await w.svc.view(r.id)).totals, { failed: 5, silent: 2, pending: 1 })

  const withReach = await w.svc.view(r.id, { reach: true })
  const reached = phases.map((_, i) => w.all.filter((d) => d.hardware === w.hw).filter((d) => { const k = phaseOf(cohortPosition(r.id, d.id), phases); return k >= 0 && k <= i }).length)
  t.same(withReach.phases.map((p) => p.reach), reached, 'the matching devices each phase reaches, cumulatively')
  t.equal(reached[2], 10, 'the last phase reaches every matching device')
  t.ok(reached[0]! < 10, 'the first does not')
  t.notOk('reach' in v.phases[0]!, 'no reach unless asked')

  await w.svc.act(r.id, 'pause', 'token:op', null)
  t.ok((await w.svc.view(r.id)).gate, 'a paused rollout shows its gate')
  await w.svc.act(r.id, 'abort', 'token:op', null)
  t.notOk('gate' in (await w.svc.view(r.id)), 'an aborted one does not')
  const draft = await w.svc.create({ release: rel.id, phases, allowEmpty: true }, 'token:op', null)
  const dv = await w.svc.view(draft.id)
  t.notOk('gate' in dv, 'nor a draft')
  t.same(dv.totals, ZERO)
  await t.rejects(w.svc.view(randomUUID()), { code: 'ROLLOUT_NOT_FOUND' })
})

t.test("metric verdicts: the rollout's median against the previous release's, from the minimum sample", async (t) => {
  const w = world(t)
  const metrics = [
    { name: 'lat', maxRatioToPrevious: 1.5 },
    { name: 'mem', max: 100 },
  ]
  const base = await w.release({ version: '0.9.0' })
  const rel = await w.release({ version: '1.0.0' })
  const { r } = await running(w, { release: rel, gate: { minSample: 3, maxFailureRate: 1, metrics } })
  const report = async (values: number[]) => {
    for (const lat of values) {
      const d = await w.member(r.id, { state: 'succeeded', reportedAt: iso(T0) })
      t.ok(await repos.fleet.members.health(r.id, d, { seq: 1, ok: true, metrics: { lat, mem: 1 }, at: iso(T0) }))
    }
  }
  const verdicts = async () => (await w.svc.view(r.id)).gate!.figures.metrics
  await report([30, 10])
  t.same(await verdicts(), [], 'two values, under the minimum sample of 3: no verdict')
  await report([20])
  t.same(await verdicts(), [{ name: 'lat', median: 20, baseline: null, ratio: null, limit: 1.5, breached: false }], 'no baseline: judged against nothing')
  const [b1, b2] = await w.devices(2)
  await repos.fleet.devices.saveHealth(b1!.id, base.name, base.version, { lat: 0 }, iso(T0), 1)
  t.same(await verdicts(), [{ name: 'lat', median: 20, baseline: 0, ratio: null, limit: 1.5, breached: false }], 'a zero baseline gives no ratio')
  await repos.fleet.devices.saveHealth(b1!.id, base.name, base.version, { lat: 10 }, iso(T0), 2)
  await repos.fleet.devices.saveHealth(b2!.id, base.name, base.version, { lat: 14 }, iso(T0), 1)
  const [v] = await verdicts()
  t.match(v, { name: 'lat', median: 20, baseline: 12, limit: 1.5, breached: true })
  t.ok(Math.abs(v!.ratio! - 20 / 12) < 1e-12, 'the ratio of the medians')
  const e = await w.svc.evaluate(r.id)
  t.match(e, { transitioned: true, decision: { verdict: 'breach' } })
  t.match(e.decision?.reason, /^lat median 20 is 1\.67× the previous release's 12 \(limit 1\.5×\)$/)
  t.equal((await w.svc.get(r.id)).state, 'paused')

  // a ratio exactly at the limit is within it
  const rel2 = await w.release({ version: '1.1.0' })
  const two = await running(w, { release: rel2, gate: { minSample: 3, maxFailureRate: 1, metrics } })
  for (const lat of [16, 17, 18]) {
    const d = await w.member(two.r.id, { state: 'succeeded' })
    await repos.fleet.members.health(two.r.id, d, { seq: 1, ok: true, metrics: { lat }, at: iso(T0) })
  }
  // baseline now: every other version of the name (0.9.0's 10 and 14, 1.0.0 has none): median 12; 17 / 12 > 1.5
  t.match((await w.svc.view(two.r.id)).gate!.figures.metrics, [{ median: 17, baseline: 12, breached: false }].map((m) => ({ ...m, breached: 17 / 12 > 1.5 })))
  await repos.fleet.devices.saveHealth(b2!.id, base.name, base.version, { lat: 10 }, iso(T0), 2)
  const [at] = (await w.svc.view(two.r.id)).gate!.figures.metrics
  t.same(at, { name: 'lat', median: 17, baseline: 10, ratio: 1.7, limit: 1.5, breached: true })
  await repos.fleet.devices.saveHealth(b1!.id, base.name, base.version, { lat: 17 / 1.5 }, iso(T0), 3)
  await repos.fleet.devices.saveHealth(b2!.id, base.name, base.version, { lat: 17 / 1.5 }, iso(T0), 3)
  const [edge] = (await w.svc.view(two.r.id)).gate!.figures.metrics
  t.equal(edge!.ratio, 17 / (17 / 1.5))
  t.equal(edge!.breached, edge!.ratio! > 1.5, 'breached only above the limit')
})

t.test('operator actions: each transition, audited and announced', async (t) => {
  const w = world(t)
  const rel = await w.release()
  const phases: Phase[] = [
    { percent: 10, minDevices: 0, soakSeconds: 0 },
    { percent: 50, minDevices: 0, soakSeconds: 0 },
    { percent: 100, minDevices: 0, soakSeconds: 0 },
  ]
  const draft = await w.svc.create({ release: rel.id, phases, allowEmpty: true }, 'token:op', null)
  w.clock.ms += 1000
  const t1 = iso(T0 + 1000)
  const started = await w.svc.act(draft.id, 'start', 'token:op', 'go')
  t.same(started, { ...draft, state: 'running', phase: 0, phaseStartedAt: t1, version: 2, updatedAt: t1, stateReason: 'go' })
  t.same(await w.svc.get(draft.id), started, 'stored as returned')
  t.same((await w.audit(draft.id))[1], { actor: 'token:op', action: 'rollout.start', reason: 'go', before: { state: 'draft', phase: 0, version: 1 }, after: { state: 'running', phase: 0, version: 2 }, at: t1 })
  t.same(w.heard.at(-1), [draft.id, 'running', 'rollout.start'])
  t.equal(w.invalidations(), 1, 'the caches drop their rollouts')
  await t.rejects(w.svc.act(draft.id, 'start', 'token:op', null), { code: 'ROLLOUT_ILLEGAL_TRANSITION', details: { action: 'start', state: 'running' } })
  await t.rejects(w.svc.act(draft.id, 'resume', 'token:op', null), { code: 'ROLLOUT_ILLEGAL_TRANSITION' })

  w.clock.ms += 1000
  const paused = await w.svc.act(draft.id, 'pause', 'token:b', null)
  t.same(paused, { ...started, state: 'paused', version: 3, updatedAt: iso(T0 + 2000), stateReason: null }, 'pause keeps the phase and its start')
  w.clock.ms += 1000
  const resumed = await w.svc.act(draft.id, 'resume', 'token:b', 'again')
  t.same(resumed, { ...paused, state: 'running', version: 4, updatedAt: iso(T0 + 3000), stateReason: 'again' }, 'resume keeps when the phase started')
  w.clock.ms += 1000
  const t4 = iso(T0 + 4000)
  const promoted = await w.svc.act(draft.id, 'promote', 'token:b', null)
  t.same(promoted, { ...resumed, phase: 1, phaseStartedAt: t4, version: 5, updatedAt: t4, stateReason: null }, 'promote: the next phase, started now')
  await w.svc.act(draft.id, 'pause', 'token:b', null)
  w.clock.ms += 1000
  const t5 = iso(T0 + 5000)
  const fromPaused = await w.svc.act(draft.id, 'promote', 'token:b', null)
  t.same(fromPaused, { ...promoted, state: 'running', phase: 2, phaseStartedAt: t5, version: 7, updatedAt: t5 }, 'a paused rollout is promoted and runs')
  w.clock.ms += 1000
  const done = await w.svc.act(draft.id, 'promote', 'token:b', 'ship it')
  t.same(done, { ...fromPaused, state: 'completed', version: 8, updatedAt: iso(T0 + 6000), stateReason: 'ship it' }, 'promoting the last phase completes it')
  const back = await w.svc.act(draft.id, 'rollback', 'token:b', 'bad')
  t.same(back, { ...done, state: 'rolled_back', version: 9, stateReason: 'bad' }, 'a completed rollout rolls back')
  await t.rejects(w.svc.act(draft.id, 'abort', 'token:b', null), { code: 'ROLLOUT_ILLEGAL_TRANSITION', message: 'cannot abort a rollout that is rolled_back' })
  t.same(
    (await w.audit(draft.id)).map((e) => [e.action, e.actor, (e.before as { version: number } | null)?.version, (e.after as { version: number }).version]),
    [
      ['rollout.create', 'token:op', undefined, 1],
      ['rollout.start', 'token:op', 1, 2],
      ['rollout.pause', 'token:b', 2, 3],
      ['rollout.resume', 'token:b', 3, 4],
      ['rollout.promote', 'token:b', 4, 5],
      ['rollout.pause', 'token:b', 5, 6],
      ['rollout.promote', 'token:b', 6, 7],
      ['rollout.promote', 'token:b', 7, 8],
      ['rollout.rollback', 'token:b', 8, 9],
    ],
  )
  t.same(
    w.heard.map(([, s, a]) => `${a}:${s}`),
    ['rollout.create:draft', 'rollout.start:running', 'rollout.pause:paused', 'rollout.resume:running', 'rollout.promote:running', 'rollout.pause:paused', 'rollout.promote:running', 'rollout.promote:completed', 'rollout.rollback:rolled_back'],
  )
  t.equal(w.invalidations(), 8, 'one cache drop per transition')

  const other = await w.svc.create({ release: rel.id, phases, allowEmpty: true }, 'token:op', null)
  t.match(await w.svc.act(other.id, 'abort', 'token:op', null), { state: 'aborted', phaseStartedAt: null })
  t.same((await w.svc.list({ state: 'aborted', limit: 1000 })).filter((r) => r.releaseId === rel.id).map((r) => r.id), [other.id], 'list passes the query on')
  const missing = randomUUID()
  await t.rejects(w.svc.act(missing, 'pause', 'token:op', null), { code: 'ROLLOUT_NOT_FOUND', message: `no rollout ${missing}` })

  // a paused rollout that never recorded its phase start (an old row) starts the clock on resume
  const old: Rollout = { ...other, id: randomUUID(), state: 'paused', phaseStartedAt: null, version: 1 }
  await repos.fleet.rollouts.insert(old)
  t.same(await w.svc.act(old.id, 'resume', 'token:op', null), { ...old, state: 'running', phaseStartedAt: iso(w.clock.ms), version: 2, updatedAt: iso(w.clock.ms), stateReason: null })
})

t.test('running(): the running rollouts only', async (t) => {
  const w = world(t)
  const a = await running(w)
  const b = await running(w)
  await w.svc.act(b.r.id, 'pause', 'token:op', null)
  const ids = (await w.svc.running()).map((r) => r.id)
  t.ok(ids.includes(a.r.id), 'a running one')
  t.notOk(ids.includes(b.r.id), 'not a paused one')
  t.ok((await w.svc.running()).every((r) => r.state === 'running'))
})

t.test('rollback is refused when members came from a lower securityVersion', async (t) => {
  const w = world(t)
  const rel = await w.release({ securityVersion: 5 })
  const { r } = await running(w, { release: rel })
  await w.member(r.id, { previous: prev('1.0.0', 4) })
  await w.member(r.id, { previous: prev('1.0.0', 4) })
  await w.member(r.id, { previous: prev('0.9.0', 3) })
  await w.member(r.id, { previous: prev('1.2.0', 5) })
  const message = `release ${rel.name}@${rel.version} has securityVersion 5; devices that ran 0.9.0, 1.0.0 (lower securityVersion) would refuse the older image, so this rollout can only be paused or aborted`
  await t.rejects(w.svc.act(r.id, 'rollback', 'token:op', null), { code: 'ROLLBACK_SECURITY_VERSION', message, details: { securityVersion: 5, previousVersions: ['0.9.0', '1.0.0'] } })
  t.equal((await w.svc.get(r.id)).version, r.version, 'nothing written')
  t.equal((await w.audit(r.id)).length, 2, 'nor audited')
  t.equal((await w.svc.act(r.id, 'pause', 'token:op', null)).state, 'paused', 'pausing is still allowed')
  t.equal((await w.svc.act(r.id, 'abort', 'token:op', null)).state, 'aborted', 'and aborting')

  const same = await running(w, { release: await w.release({ securityVersion: 5 }) })
  await w.member(same.r.id, { previous: prev('1.2.0', 5) })
  await w.member(same.r.id)
  t.equal((await w.svc.act(same.r.id, 'rollback', 'token:op', null)).state, 'rolled_back', 'members from the same securityVersion can go back')
})

t.test('evaluate: running only; wait writes nothing; promote and complete', async (t) => {
  const w = world(t)
  t.same(await w.svc.evaluate(randomUUID()), { transitioned: false }, 'an unknown rollout')
  const rel = await w.release()
  const draft = await w.svc.create({ release: rel.id, phases: ONE_PHASE, allowEmpty: true }, 'token:op', null)
  await w.member(draft.id, { state: 'succeeded' })
  t.same(await w.svc.evaluate(draft.id), { transitioned: false }, 'a draft is not evaluated')
  const phases: Phase[] = [
    { percent: 50, minDevices: 1, soakSeconds: 60 },
    { percent: 100, minDevices: 2, soakSeconds: 0 },
  ]
  const { r } = await running(w, { release: rel, phases, gate: { maxFailureRate: 1, minSample: 1 } })
  await w.member(r.id, { state: 'succeeded' })
  const heard = w.heard.length
  const inv = w.invalidations()
  const wait = await w.svc.evaluate(r.id)
  t.match(wait, { transitioned: false, decision: { verdict: 'wait', reason: 'soak ends in 60 s' } })
  t.same(await w.svc.get(r.id), r, 'waiting writes nothing')
  t.equal(w.heard.length, heard, 'announces nothing')
  t.equal(w.invalidations(), inv, 'drops no cache')

  w.clock.ms += 60_000
  const now = iso(w.clock.ms)
  const p = await w.svc.evaluate(r.id)
  t.match(p, { transitioned: true, decision: { verdict: 'promote', reason: /^phase 1 healthy: 1 healthy, 0 failed/ } })
  const promoted = await w.svc.get(r.id)
  t.same(promoted, { ...r, phase: 1, phaseStartedAt: now, version: r.version + 1, updatedAt: now, stateReason: p.decision!.reason })
  t.same((await w.audit(r.id)).at(-1), {
    actor: 'system:gate',
    action: 'rollout.promote',
    reason: p.decision!.reason,
    before: { state: 'running', phase: 0, version: r.version },
    after: { state: 'running', phase: 1, version: r.version + 1, figures: p.decision!.figures },
    at: now,
  })
  t.same(w.heard.at(-1), [r.id, 'running', 'rollout.promote'])
  t.equal(w.invalidations(), inv + 1)

  const wait2 = await w.svc.evaluate(r.id)
  t.match(wait2, { transitioned: false, decision: { verdict: 'wait', reason: '1 more healthy devices needed (1/2)' } }, 'the counts are over every phase')
  await w.member(r.id, { phase: 1, state: 'succeeded' })
  w.clock.ms += 1000
  const c = await w.svc.evaluate(r.id)
  t.match(c, { transitioned: true, decision: { verdict: 'complete', reason: /^phase 2 healthy: 2 healthy, 0 failed/ } })
  t.same(await w.svc.get(r.id), { ...promoted, state: 'completed', version: promoted.version + 1, updatedAt: iso(w.clock.ms), stateReason: c.decision!.reason }, 'completed, in its last phase')
  t.match((await w.audit(r.id)).at(-1), { actor: 'system:gate', action: 'rollout.complete', after: { state: 'completed', phase: 1, figures: { decided: 2 } } })
  t.same(w.heard.at(-1), [r.id, 'completed', 'rollout.complete'])
  t.same(await w.svc.evaluate(r.id), { transitioned: false }, 'a completed rollout is not evaluated')
})

t.test('evaluate: a breach pauses, rolls back, or pauses when rollback is impossible', async (t) => {
  const w = world(t)
  const gate = { maxFailures: 1, minSample: 10 }
  const reason = '1 devices failed (0 silent), limit 1'

  const a = await running(w, { gate })
  await w.member(a.r.id, { state: 'failed' })
  const pa = await w.svc.evaluate(a.r.id)
  t.match(pa, { transitioned: true, decision: { verdict: 'breach', reason } })
  t.same(await w.svc.get(a.r.id), { ...a.r, state: 'paused', version: a.r.version + 1, stateReason: reason })
  t.match((await w.audit(a.r.id)).at(-1), { actor: 'system:gate', action: 'rollout.pause', reason, after: { state: 'paused' } })
  t.same(await w.svc.evaluate(a.r.id), { transitioned: false }, 'a paused rollout that still breaches is left alone')
  t.equal((await w.audit(a.r.id)).length, 3, 'and not audited again')

  const b = await running(w, { gate, breachAction: 'rollback' })
  await w.member(b.r.id, { state: 'failed', previous: prev('0.1.0', 1) })
  t.match(await w.svc.evaluate(b.r.id), { transitioned: true, decision: { verdict: 'breach', reason } })
  t.same(await w.svc.get(b.r.id), { ...b.r, state: 'rolled_back', version: b.r.version + 1, stateReason: reason })
  t.match((await w.audit(b.r.id)).at(-1), { action: 'rollout.rollback', reason })
  t.same(w.heard.at(-1), [b.r.id, 'rolled_back', 'rollout.rollback'])

  const rel = await w.release({ securityVersion: 4 })
  const c = await running(w, { gate, breachAction: 'rollback', release: rel })
  await w.member(c.r.id, { state: 'failed', previous: prev('0.2.0', 2) })
  const why = `${reason}; rollback impossible: release ${rel.name}@${rel.version} has securityVersion 4; devices that ran 0.2.0 (lower securityVersion) would refuse the older image, so this rollout can only be paused or aborted`
  t.match(await w.svc.evaluate(c.r.id), { transitioned: true, decision: { verdict: 'breach', reason } })
  t.same(await w.svc.get(c.r.id), { ...c.r, state: 'paused', version: c.r.version + 1, stateReason: why })
  t.match((await w.audit(c.r.id)).at(-1), { actor: 'system:gate', action: 'rollout.pause', reason: why, after: { state: 'paused' } })
  t.same(w.heard.at(-1), [c.r.id, 'paused', 'rollout.pause'])
})

t.test('evaluate: of concurrent evaluations from one version exactly one transitions', async (t) => {
  const w = world(t)
  const { r } = await running(w, { gate: { maxFailures: 1 } })
  await w.member(r.id, { state: 'failed' })
  const inv = w.invalidations()
  const heard = w.heard.length
  const results = await Promise.all(Array.from({ length: 6 }, () => w.svc.evaluate(r.id)))
  t.equal(results.filter((x) => x.transitioned).length, 1, 'one winner')
  t.equal((await w.audit(r.id)).filter((e) => e.action === 'rollout.pause').length, 1, 'one pause audited')
  t.equal(w.invalidations(), inv + 1, 'only the winner drops the caches')
  t.equal(w.heard.length, heard + 1, 'and announces')
  t.equal((await w.svc.get(r.id)).version, r.version + 1)
})

/** The fleet with a compare-and-set that loses its first `losses` calls (as to another writer). */
function losing(losses: number) {
  let calls = 0
  const wrap = (rollouts: RolloutRepository): RolloutRepository =>
    Object.assign(Object.create(rollouts) as RolloutRepository, {
      compareAndSet: async (next: Rollout) => (++calls <= losses ? false : rollouts.compareAndSet(next)),
    })
  const fleet: FleetRepositories = { ...repos.fleet, transaction: (fn) => repos.fleet.transaction((tx) => fn({ ...tx, rollouts: wrap(tx.rollouts) })) }
  return { fleet, calls: () => calls }
}

t.test('act: a lost compare-and-set is tried again, four times in all', async (t) => {
  const once = losing(1)
  const w = world(t, once.fleet)
  const rel = await w.release()
  const r = await w.svc.create({ release: rel.id, phases: ONE_PHASE, allowEmpty: true }, 'token:op', null)
  const started = await w.svc.act(r.id, 'start', 'token:op', null)
  t.equal(once.calls(), 2, 'lost once, won the second time')
  t.match(started, { state: 'running', version: 2 })
  t.equal((await w.audit(r.id)).length, 2, 'one transition audited')
  t.equal(w.invalidations(), 1, 'the loser dropped no cache')
  t.same(w.heard.map(([, , a]) => a), ['rollout.create', 'rollout.start'], 'and announced nothing')

  const three = losing(3)
  const w3 = world(t, three.fleet)
  const r3 = await w3.svc.create({ release: rel.id, phases: ONE_PHASE, allowEmpty: true }, 'token:op', null)
  t.match(await w3.svc.act(r3.id, 'start', 'token:op', null), { state: 'running' }, 'the fourth try still wins')
  t.equal(three.calls(), 4)

  const always = losing(Infinity)
  const wa = world(t, always.fleet)
  const ra = await wa.svc.create({ release: rel.id, phases: ONE_PHASE, allowEmpty: true }, 'token:op', null)
  await t.rejects(wa.svc.act(ra.id, 'start', 'token:op', null), { code: 'ROLLOUT_CONCURRENT_CHANGE', message: `rollout ${ra.id} kept changing underneath; try again` })
  t.equal(always.calls(), 4, 'four tries, then it gives up')
  t.equal((await wa.svc.get(ra.id)).state, 'draft')
  t.equal(wa.invalidations(), 0)

  const ev = losing(1)
  const we = world(t, ev.fleet)
  const { r: re } = await running(world(t), { release: rel, gate: { maxFailures: 1 } })
  await we.member(re.id, { state: 'failed' })
  t.match(await we.svc.evaluate(re.id), { transitioned: false, decision: { verdict: 'breach' } }, 'an evaluation that loses says so')
  t.equal(we.invalidations(), 0, 'and changes nothing')
  t.same(we.heard, [])
  t.equal((await we.svc.get(re.id)).state, 'running')
})

/** The rollout engine's pure parts: Wilson bounds, cohorts, the gate's decisions, the state machine. */
import t from 'tap'
import { cohortPosition, phaseOf } from '../../server/domain/rollouts/cohort.js'
import { evaluateGate } from '../../server/domain/rollouts/gate.js'
import type { MemberCounts, Rollout } from '../../server/domain/fleet-model.js'
import { checkPhases, gateOf } from '../../server/domain/rollouts/rollout-input.js'
import { nextState } from '../../server/domain/rollouts/transitions.js'
import { wilson, zFor } from '../../server/domain/rollouts/wilson.js'

t.test('Wilson interval matches published values', async (t) => {
  t.ok(Math.abs(zFor(0.95) - 1.959964) < 1e-5)
  t.ok(Math.abs(zFor(0.9) - 1.644854) < 1e-5)
  t.ok(Math.abs(zFor(0.999) - 3.290527) < 1e-5)
  // 0 of 10 at 95%: [0, 0.2775]; 2 of 10: [0.0567, 0.5098]
  const none = wilson(0, 10, 0.95)
  t.equal(none.lower, 0)
  t.ok(Math.abs(none.upper - 0.2775) < 1e-3)
  const two = wilson(2, 10, 0.95)
  t.ok(Math.abs(two.lower - 0.0567) < 1e-3)
  t.ok(Math.abs(two.upper - 0.5098) < 1e-3)
  t.same(wilson(0, 0, 0.95), { lower: 0, upper: 1 }, 'no sample: no knowledge')
  // three devices, one failed: the raw ratio says 33%, the bound cannot exclude 5%
  t.ok(wilson(1, 3, 0.95).lower < 0.07)
})

t.test('cohorts are deterministic, uniform and only grow with the phase', async (t) => {
  // Known answers, from `printf 'r1\0d1' | sha256sum`: the first 52 bits over 2^52. A change
  // of the formula would silently reshuffle every running rollout's cohorts.
  t.equal(cohortPosition('r1', 'd1'), 0.5510751527870306)
  t.equal(cohortPosition('rollout-42', 'device-7'), 0.6035499056934812)
  t.not(cohortPosition('r1d', '1'), cohortPosition('r1', 'd1'), 'the separator keeps (r1d, 1) and (r1, d1) apart')
  t.not(cohortPosition('r1', 'd1'), cohortPosition('r2', 'd1'), 'a new rollout reshuffles')
  const n = 20000
  const buckets = new Array(10).fill(0)
  let outOfRange = 0
  for (let i = 0; i < n; i++) {
    const p = cohortPosition('rollout', `device-${i}`)
    if (!(p >= 0 && p < 1)) outOfRange++
    else buckets[Math.floor(p * 10)]++
  }
  t.equal(outOfRange, 0, 'every position in [0, 1)')
  // chi-square with 9 degrees of freedom, p = 0.001 critical value 27.88
  const chi = buckets.reduce((s, b) => s + (b - n / 10) ** 2 / (n / 10), 0)
  t.ok(chi < 27.88, `uniform (chi² ${chi.toFixed(1)})`)
  const phases = [{ percent: 1, minDevices: 0, soakSeconds: 0 }, { percent: 10, minDevices: 0, soakSeconds: 0 }, { percent: 100, minDevices: 0, soakSeconds: 0 }]
  t.equal(phaseOf(0.005, phases), 0)
  t.equal(phaseOf(0.05, phases), 1)
  t.equal(phaseOf(0.5, phases), 2)
  t.equal(phaseOf(0.5, phases.slice(0, 2)), -1, 'beyond the last phase: never reached')
})

const counts = (c: Partial<MemberCounts>): MemberCounts => ({ assigned: 0, healthy: 0, failed: 0, silent: 0, pending: 0, reverted: 0, ...c })
const rollout = (over: Partial<Rollout> = {}): Rollout => ({
  id: 'r',
  releaseId: 'rel',
  selector: {},
  phases: [
    { percent: 1, minDevices: 5, soakSeconds: 60 },
    { percent: 100, minDevices: 50, soakSeconds: 0 },
  ],
  gate: gateOf({ maxFailureRate: 0.1, minSample: 5 }),
  breachAction: 'pause',
  state: 'running',
  phase: 0,
  phaseStartedAt: '2026-01-01T00:00:00.000Z',
  stateReason: null,
  version: 2,
  createdBy: 'test',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
})
const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + s * 1000)

t.test('the gate waits, promotes, completes and breaches on the bounds', async (t) => {
  let d = evaluateGate(rollout(), counts({ healthy: 40 }), [], at(30))
  t.equal(d.verdict, 'wait')
  t.match(d.reason, /soak ends in 30 s/)
  d = evaluateGate(rollout(), counts({ healthy: 3 }), [], at(120))
  t.equal(d.verdict, 'wait')
  t.match(d.reason, /2 more healthy devices needed/)
  d = evaluateGate(rollout(), counts({ healthy: 10 }), [], at(120))
  t.equal(d.verdict, 'wait', '0/10 failed: the 95% upper bound (27.8%) is still above 10%')
  t.match(d.reason, /upper bound 27\.8%/)
  d = evaluateGate(rollout(), counts({ healthy: 40 }), [], at(120))
  t.equal(d.verdict, 'promote', '0/40: upper bound 8.8% ≤ 10%')
  d = evaluateGate(rollout({ phase: 1 }), counts({ healthy: 60 }), [], at(120))
  t.equal(d.verdict, 'complete')
  d = evaluateGate(rollout(), counts({ healthy: 10, failed: 4 }), [], at(0))
  t.equal(d.verdict, 'breach', '4/14 failed: lower bound 11.7% > 10%, even during the soak')
  t.match(d.reason, /lower bound/)
  d = evaluateGate(rollout(), counts({ healthy: 16, failed: 4 }), [], at(0))
  t.equal(d.verdict, 'wait', '4/20 failed is a raw 20% over the 10% limit, but the lower bound (8.1%) is not: wait, do not breach')
  t.equal(d.figures.failureRate, 0.2)
  t.ok(Math.abs(d.figures.bounds.lower - 0.0807) < 1e-3, `lower bound ${d.figures.bounds.lower}`)
  t.match(d.reason, /upper bound 41\.6% is above 10\.0% \(4\/20 failed\)/)
  d = evaluateGate(rollout(), counts({ healthy: 1, failed: 1 }), [], at(0))
  t.equal(d.verdict, 'wait', '1/2 is no evidence below the minimum sample')
  d = evaluateGate(rollout({ gate: gateOf({ maxFailureRate: 0.1, minSample: 5, maxFailures: 1 }) }), counts({ failed: 1, silent: 1 }), [], at(0))
  t.equal(d.verdict, 'breach', 'an absolute failure count breaches at once')
  t.match(d.reason, /1 devices failed \(1 silent\)/)
  d = evaluateGate(rollout(), counts({ healthy: 40 }), [{ name: 'inference_p95_ms', median: 900, baseline: 600, ratio: 1.5, limit: 1.2, breached: true }], at(120))
  t.equal(d.verdict, 'breach', 'a metric worse than the previous release breaches')
  t.match(d.reason, /inference_p95_ms median 900 is 1\.50× the previous release's 600/)
})

t.test('phases and gate are validated; the state machine refuses illegal transitions', async (t) => {
  const p = (percent: number) => ({ percent, minDevices: 0, soakSeconds: 0 })
  t.throws(() => checkPhases([p(10), p(10)]), { code: 'ROLLOUT_PHASES_NOT_INCREASING' })
  t.throws(() => checkPhases([p(50), p(10)]), { code: 'ROLLOUT_PHASES_NOT_INCREASING' })
  t.throws(() => checkPhases([p(0)]), { code: 'ROLLOUT_PERCENT_OUT_OF_RANGE' })
  t.throws(() => checkPhases([p(101)]), { code: 'ROLLOUT_PERCENT_OUT_OF_RANGE' })
  t.throws(() => checkPhases([]), { code: 'ROLLOUT_PHASES_INVALID' })
  t.throws(() => gateOf({ confidence: 1.5 }), { code: 'ROLLOUT_GATE_INVALID' })
  t.throws(() => gateOf({ metrics: [{ name: 'x' }] }), { code: 'ROLLOUT_GATE_INVALID' })
  t.equal(nextState('start', 'draft'), 'running')
  t.equal(nextState('pause', 'running'), 'paused')
  t.equal(nextState('resume', 'paused'), 'running')
  t.equal(nextState('rollback', 'completed'), 'rolled_back')
  for (const [action, from] of [['resume', 'completed'], ['start', 'running'], ['pause', 'paused'], ['promote', 'aborted'], ['rollback', 'draft'], ['abort', 'rolled_back']] as const)
    t.throws(() => nextState(action, from), { code: 'ROLLOUT_ILLEGAL_TRANSITION' }, `${action} from ${from}`)
})

/**
 * The gate's exact edges and every figure and reason it gives (server/domain/fleet):
 * written for mutants that changed a boundary, a figure or a reason without any test
 * noticing (npm run mutate -- --area fleet).
 */
import t from 'tap'
import { cohortPosition, phaseOf } from '../../server/domain/rollouts/cohort.js'
import { evaluateGate, median } from '../../server/domain/rollouts/gate.js'
import type { MemberCounts, Rollout } from '../../server/domain/fleet-model.js'
import { gateOf } from '../../server/domain/rollouts/rollout-input.js'
import { ACTIONS, isLive, nextState } from '../../server/domain/rollouts/transitions.js'
import { wilson, zFor } from '../../server/domain/rollouts/wilson.js'

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
const close = (x: number, want: number) => Math.abs(x - want) < 1e-6

t.test('promote and complete give the figures and say why', async (t) => {
  const p = evaluateGate(rollout(), counts({ healthy: 40 }), [], at(120))
  t.match(p, {
    verdict: 'promote',
    reason: 'phase 1 healthy: 40 healthy, 0 failed, 95% upper bound 8.8% ≤ 10.0%',
    figures: { decided: 40, failureRate: 0, soakRemainingSeconds: 0, healthyNeeded: 0, metrics: [] },
  })
  t.ok(close(p.figures.bounds.upper, 0.0876216), `upper ${p.figures.bounds.upper}`)
  t.equal(p.figures.bounds.lower, 0)
  t.match(evaluateGate(rollout({ phase: 1 }), counts({ healthy: 60 }), [], at(120)), {
    verdict: 'complete',
    reason: 'phase 2 healthy: 60 healthy, 0 failed, 95% upper bound 6.0% ≤ 10.0%',
  })
})

t.test('waiting lists every reason, and the figures are exact', async (t) => {
  t.match(evaluateGate(rollout(), counts({}), [], at(29.5)), {
    verdict: 'wait',
    reason: 'soak ends in 31 s; 5 more healthy devices needed (0/5); 5 more reports needed for a sample of 5',
    figures: { decided: 0, failureRate: 0, bounds: { lower: 0, upper: 1 }, soakRemainingSeconds: 31, healthyNeeded: 5 },
  })
  t.match(evaluateGate(rollout({ phaseStartedAt: null }), counts({ healthy: 2 }), [], at(1000)), {
    verdict: 'wait',
    reason: 'soak ends in 60 s; 3 more healthy devices needed (2/5); 3 more reports needed for a sample of 5',
    figures: { soakRemainingSeconds: 60, healthyNeeded: 3 },
  }, 'a phase not yet started has its whole soak ahead')
  const late = evaluateGate(rollout(), counts({ healthy: 3 }), [], at(100_000))
  t.equal(late.figures.soakRemainingSeconds, 0, 'never negative after the soak')
  t.equal(evaluateGate(rollout(), counts({ healthy: 60 }), [], at(120)).figures.healthyNeeded, 0, 'never negative past the minimum')
})

t.test('maxFailures: below it no breach, at it a breach', async (t) => {
  const gate = gateOf({ maxFailureRate: 0.1, minSample: 5, maxFailures: 3 })
  t.match(evaluateGate(rollout({ gate }), counts({ healthy: 40, failed: 2, silent: 1 }), [], at(120)), {
    verdict: 'wait',
    reason: 'failure 95% upper bound 15.8% is above 10.0% (2/42 failed)',
  })
  t.match(evaluateGate(rollout({ gate }), counts({ healthy: 400, failed: 3, silent: 2 }), [], at(120)), {
    verdict: 'breach',
    reason: '3 devices failed (2 silent), limit 3',
  })
})

t.test('the sample minimum is inclusive, for breach and for promotion', async (t) => {
  t.match(evaluateGate(rollout(), counts({ healthy: 1, failed: 4 }), [], at(0)), {
    verdict: 'breach',
    reason: 'failure rate 4/5: 95% lower bound 37.6% exceeds 10.0%',
    figures: { decided: 5, failureRate: 0.8 },
  }, 'exactly minSample reports: evidence enough to breach')
  t.match(evaluateGate(rollout(), counts({ failed: 4 }), [], at(0)), {
    verdict: 'wait',
    reason: 'soak ends in 60 s; 5 more healthy devices needed (0/5); 1 more reports needed for a sample of 5',
  }, 'one short of the sample: wait, even at 100% failed')
  const gate = gateOf({ maxFailureRate: 1, minSample: 5 })
  const phases = [{ percent: 100, minDevices: 0, soakSeconds: 0 }]
  t.equal(evaluateGate(rollout({ gate, phases }), counts({ healthy: 5 }), [], at(0)).verdict, 'complete', 'exactly minSample: may complete')
  t.equal(evaluateGate(rollout({ gate, phases }), counts({ healthy: 4 }), [], at(0)).verdict, 'wait', 'one short: waits')
})

t.test('a breached metric names itself; one within bounds does not breach', async (t) => {
  const ok = { name: 'boot_ms', median: 100, baseline: 100, ratio: 1, limit: 1.2, breached: false }
  t.equal(evaluateGate(rollout(), counts({ healthy: 40 }), [ok], at(120)).verdict, 'promote')
  t.match(evaluateGate(rollout(), counts({ healthy: 40 }), [ok, { ...ok, name: 'rss_mb', median: 300, baseline: 200, ratio: 1.5, breached: true }], at(120)), {
    verdict: 'breach',
    reason: "rss_mb median 300 is 1.50× the previous release's 200 (limit 1.2×)",
  })
})

t.test('median: numeric order, odd and even counts, none', async (t) => {
  t.equal(median([]), undefined)
  t.equal(median([3]), 3)
  t.equal(median([10, 9, 1]), 9, 'sorted as numbers, not as text')
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([10, 2, 30, 4]), 7)
  const input = [3, 1, 2]
  median(input)
  t.same(input, [3, 1, 2], 'the caller’s array is left alone')
})

t.test('Wilson and z over their whole range', async (t) => {
  t.ok(close(zFor(0.99), 2.5758293), 'upper tail')
  t.ok(close(zFor(-0.99), -2.5758293), 'lower tail (p below 0.02425)')
  t.ok(close(zFor(0.5), 0.6744898), 'central region')
  t.ok(close(zFor(0.96), 2.0537489), 'just past the central region')
  t.ok(close(zFor(0.94), 1.8807936), 'just inside it')
  t.same(wilson(10, 10, 0.95).upper, 1, 'all failed: the upper bound is capped at 1')
  t.ok(close(wilson(10, 10, 0.95).lower, 0.7224672))
  t.ok(close(wilson(0, 1, 0.95).upper, 0.7934507))
  t.equal(wilson(0, 1, 0.95).lower, 0)
  t.same(wilson(0, -1, 0.95), { lower: 0, upper: 1 }, 'a negative count is no sample either')
})

t.test('a position exactly on a phase boundary belongs to the next phase', async (t) => {
  const phases = [{ percent: 1, minDevices: 0, soakSeconds: 0 }, { percent: 10, minDevices: 0, soakSeconds: 0 }]
  t.equal(phaseOf(0.01, phases), 1)
  t.equal(phaseOf(0.1, phases), -1)
  t.equal(phaseOf(0, phases), 0)
  t.ok(cohortPosition('', '') >= 0)
})

t.test('state machine: every action, its target, and what a refusal carries', async (t) => {
  t.same([...ACTIONS], ['start', 'pause', 'resume', 'promote', 'abort', 'rollback'])
  t.equal(nextState('promote', 'running'), 'running')
  t.equal(nextState('promote', 'paused'), 'running')
  t.equal(nextState('abort', 'draft'), 'aborted')
  t.equal(nextState('abort', 'running'), 'aborted')
  t.equal(nextState('abort', 'paused'), 'aborted')
  t.equal(nextState('rollback', 'running'), 'rolled_back')
  t.equal(nextState('rollback', 'paused'), 'rolled_back')
  let refusal: unknown
  try {
    nextState('resume', 'completed')
  } catch (e) {
    refusal = e
  }
  t.match(refusal, {
    code: 'ROLLOUT_ILLEGAL_TRANSITION',
    message: 'cannot resume a rollout that is completed',
    details: { action: 'resume', state: 'completed', allowedFrom: ['paused'] },
  })
  t.same(
    (['draft', 'running', 'paused', 'completed', 'aborted', 'rolled_back'] as const).map(isLive),
    [false, true, true, false, false, false],
  )
})

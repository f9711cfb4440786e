/**
 * The simulated-fleet rollout scenarios (fleet-rollout.scenarios.ts) on PostgreSQL +
 * Redis with two `slipway worker` processes, and the concurrent-evaluation race.
 */
import t from 'tap'
import { raceScenario, rolloutScenarios, scaled } from './fleet-rollout.scenarios.js'

rolloutScenarios(t, scaled)
raceScenario(t)

/** The simulated-fleet rollout scenarios (fleet-rollout.scenarios.ts) on the embedded server: SQLite, in-process jobs. */
import t from 'tap'
import { embedded, rolloutScenarios } from './fleet-rollout.scenarios.js'

rolloutScenarios(t, embedded)

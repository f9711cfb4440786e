/** The rollout state machine: which operator action leads from which state to which. */
import { conflict } from '../errors.js'
import type { RolloutState } from '../fleet-model.js'

export const ACTIONS = ['start', 'pause', 'resume', 'promote', 'abort', 'rollback'] as const
export type RolloutAction = (typeof ACTIONS)[number]

const TABLE: Record<RolloutAction, { from: readonly RolloutState[]; to: RolloutState }> = {
  start: { from: ['draft'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  // promote = move to the next phase now (operator override of soak / minimum devices);
  // on the last phase it completes the rollout
  promote: { from: ['running', 'paused'], to: 'running' },
  abort: { from: ['draft', 'running', 'paused'], to: 'aborted' },
  rollback: { from: ['running', 'paused', 'completed'], to: 'rolled_back' },
}

export function nextState(action: RolloutAction, from: RolloutState): RolloutState {
  const t = TABLE[action]
  if (!t.from.includes(from))
    throw conflict('ROLLOUT_ILLEGAL_TRANSITION', `cannot ${action} a rollout that is ${from}`, { action, state: from, allowedFrom: t.from })
  return t.to
}

export const isLive = (s: RolloutState): boolean => s === 'running' || s === 'paused'

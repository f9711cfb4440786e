/**
 * What the management API shows of a rollout (GET/POST /v1/rollouts…): the record, the
 * live view with per-phase counts and the gate's figures, and a dry run. `slipway
 * rollout` and the console read these shapes.
 */
import { Type, type Static, type TSchema } from 'typebox'
import { ROLLOUT_STATES } from '../../../domain/fleet-model.js'
import { InventorySelectorSchema } from '../../inventory-schemas.js'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

export const SelectorView = Type.Object({
  hardware: Type.Optional(Type.String()),
  group: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Array(Type.String())),
  savedGroup: Type.Optional(Type.String({ description: 'the dynamic group this selector was copied from' })),
  inventory: Type.Optional(InventorySelectorSchema),
})

export const GateView = Type.Object({
  maxFailureRate: Type.Number(),
  minSample: Type.Integer(),
  confidence: Type.Number(),
  maxFailures: Type.Optional(Type.Integer()),
  silentAfterSeconds: Type.Number(),
  metrics: Type.Optional(Type.Array(Type.Object({ name: Type.String(), max: Type.Optional(Type.Number()), maxRatioToPrevious: Type.Optional(Type.Number()) }))),
})

export const RolloutRecord = Type.Object({
  id: Type.String(),
  releaseId: Type.String(),
  selector: SelectorView,
  phases: Type.Array(Type.Object({ percent: Type.Number(), minDevices: Type.Integer(), soakSeconds: Type.Number() })),
  gate: GateView,
  breachAction: Type.Union([Type.Literal('pause'), Type.Literal('rollback')]),
  state: Type.Enum(ROLLOUT_STATES),
  phase: Type.Integer({ description: 'index into phases' }),
  phaseStartedAt: Nullable(Type.String()),
  stateReason: Nullable(Type.String()),
  version: Type.Integer({ description: 'optimistic-lock version, +1 on every transition' }),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type RolloutRecord = Static<typeof RolloutRecord>

const Counts = Type.Object({
  assigned: Type.Integer(),
  healthy: Type.Integer(),
  failed: Type.Integer(),
  silent: Type.Integer({ description: 'pending past the silent deadline (included in failed)' }),
  pending: Type.Integer(),
  reverted: Type.Integer(),
})

export const GateDecisionView = Type.Object({
  verdict: Type.Union([Type.Literal('breach'), Type.Literal('promote'), Type.Literal('complete'), Type.Literal('wait')]),
  reason: Type.String(),
  figures: Type.Object({
    decided: Type.Integer(),
    failureRate: Type.Number(),
    bounds: Type.Object({ lower: Type.Number(), upper: Type.Number() }),
    soakRemainingSeconds: Type.Number(),
    healthyNeeded: Type.Integer(),
    metrics: Type.Array(
      Type.Object({ name: Type.String(), median: Type.Number(), baseline: Nullable(Type.Number()), ratio: Nullable(Type.Number()), limit: Type.Number(), breached: Type.Boolean() }),
    ),
  }),
})

export const RolloutView = Type.Object({
  rollout: RolloutRecord,
  release: Type.Object({ id: Type.String(), name: Type.String(), version: Type.String(), securityVersion: Type.Integer() }),
  phases: Type.Array(
    Type.Object({
      index: Type.Integer(),
      percent: Type.Number(),
      minDevices: Type.Integer(),
      soakSeconds: Type.Number(),
      healthyToPromote: Nullable(Type.Integer({ description: 'healthy devices the gate needs to promote this phase if none fails; null: never on its own' })),
      members: Counts,
      reach: Type.Optional(Type.Integer({ description: 'matching devices this phase reaches (cumulative), counted now' })),
    }),
  ),
  totals: Counts,
  gate: Type.Optional(GateDecisionView),
})
export type RolloutView = Static<typeof RolloutView>

export const DryRunView = Type.Object({
  dryRun: Type.Literal(true),
  rolloutId: Type.String({ description: 'reserved: create with id set to it and the rollout gets these very cohorts' }),
  reservedUntil: Type.String(),
  release: Type.Object({ id: Type.String(), name: Type.String(), version: Type.String() }),
  selector: SelectorView,
  gate: GateView,
  matching: Type.Integer(),
  phases: Type.Array(Type.Object({ index: Type.Integer(), percent: Type.Number(), devices: Type.Integer(), healthyToPromote: Nullable(Type.Integer()) })),
})
export type DryRunView = Static<typeof DryRunView>

export const RolloutList = Type.Object({ rollouts: Type.Array(RolloutRecord) })

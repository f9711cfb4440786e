/**
 * Rollouts: define, dry-run, act (operator), evaluate (gate, automatic). Every
 * transition is one transaction: compare-and-set on the rollout's version plus the
 * audit entry, so two replicas or workers evaluating the same rollout produce exactly
 * one transition; the loser sees its compare-and-set fail and does nothing.
 */
import { randomUUID } from 'node:crypto'
import { conflict, notFound, unprocessable } from '../errors.js'
import type { Release } from '../model.js'
import type { ReleaseRepository } from '../ports/repositories.js'
import type { FleetCaches } from './caches.js'
import type { TransitionListener } from './rollout-changes.js'
import { cohortPosition, phaseOf } from './cohort.js'
import { evaluateGate, median, type GateDecision, type MetricVerdict } from './gate.js'
import { GATE_PRESETS, healthyToPromote } from './gate-presets.js'
import type { MemberCounts, Rollout, RolloutState } from '../fleet-model.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { checkPhases, gateOf, type RolloutInput } from './rollout-input.js'
import { selectorMisses } from '../devices/selector.js'
import { nextState, type RolloutAction } from './transitions.js'

const ZERO: MemberCounts = { assigned: 0, healthy: 0, failed: 0, silent: 0, pending: 0, reverted: 0 }

function add(a: MemberCounts, b: MemberCounts): MemberCounts {
  return {
    assigned: a.assigned + b.assigned,
    healthy: a.healthy + b.healthy,
    failed: a.failed + b.failed,
    silent: a.silent + b.silent,
    pending: a.pending + b.pending,
    reverted: a.reverted + b.reverted,
  }
}

export interface PhaseView {
  index: number
  percent: number
  minDevices: number
  soakSeconds: number
  /** healthy devices (cumulative) the gate needs to promote this phase if none fails; null: never on its own */
  healthyToPromote: number | null
  /** members first assigned in this phase */
  members: MemberCounts
  /** matching devices this phase reaches (cumulative), counted now */
  reach?: number
}

export interface RolloutView {
  rollout: Rollout
  release: { id: string; name: string; version: string; securityVersion: number }
  phases: PhaseView[]
  totals: MemberCounts
  gate?: GateDecision
}

export interface DryRun {
  dryRun: true
  /** reserved: create with `id` set to it and the rollout gets these very cohorts */
  rolloutId: string
  reservedUntil: string
  release: { id: string; name: string; version: string }
  selector: Rollout['selector']
  gate: Rollout['gate']
  matching: number
  phases: Array<{ index: number; percent: number; devices: number; healthyToPromote: number | null }>
}

/** How long a dry run's rollout id stays reserved. */
export const RESERVATION_SECONDS = 3600

export type Actor = string

export class RolloutService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly releases: ReleaseRepository,
    private readonly caches: FleetCaches,
    /** called after a transition (or the creation) commits: cache invalidation, live pages (announceTransitions) */
    private readonly onTransition: TransitionListener,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async resolveRelease(ref: string): Promise<Release> {
    const at = ref.lastIndexOf('@')
    const rel = at > 0 ? await this.releases.findByNameVersion(ref.slice(0, at), ref.slice(at + 1)) : await this.releases.findById(ref)
    if (!rel) throw notFound('RELEASE_NOT_FOUND', `no release ${ref} (give a release id or name@version)`)
    return rel
  }

  async create(input: RolloutInput, actor: Actor, reason: string | null): Promise<Rollout> {
    const { rollout, release } = await this.prepare(input, actor, input.id)
    if (input.id !== undefined && !(await this.fleet.reservations.exists(input.id, rollout.createdAt))) throw this.unknownReservation(input.id)
    if (!input.allowEmpty && (await this.reach(rollout, release)).matching === 0)
      throw unprocessable('ROLLOUT_SELECTS_NO_DEVICE', 'the selector matches no device now; give allowEmpty: true (--allow-empty) to create it anyway (devices that enroll later join)', {
        selector: rollout.selector,
      })
    await this.fleet.transaction(async (tx) => {
      if (input.id !== undefined && !(await tx.reservations.take(input.id, rollout.createdAt))) throw this.unknownReservation(input.id)
      await tx.rollouts.insert(rollout)
      await tx.audit.append({ actor, action: 'rollout.create', subject: `rollout:${rollout.id}`, reason, before: null, after: summary(rollout) }, rollout.createdAt)
    })
    this.onTransition(rollout, 'rollout.create')
    return rollout
  }

  /**
   * Counts what each phase would reach now, under a reserved rollout id (a new one, or
   * `input.id` from an earlier dry run): creating with that id gives the same cohorts.
   */
  async dryRun(input: RolloutInput, actor: Actor): Promise<DryRun> {
    const { rollout, release } = await this.prepare(input, actor, input.id)
    const expires = new Date(this.now().getTime() + RESERVATION_SECONDS * 1000).toISOString()
    if (input.id !== undefined) {
      if (!(await this.fleet.reservations.exists(input.id, rollout.createdAt))) throw this.unknownReservation(input.id)
    } else await this.fleet.reservations.reserve({ id: rollout.id, createdBy: actor, createdAt: rollout.createdAt, expiresAt: expires })
    const reach = await this.reach(rollout, release)
    return {
      dryRun: true,
      rolloutId: rollout.id,
      reservedUntil: expires,
      release: { id: release.id, name: release.name, version: release.version },
      selector: rollout.selector,
      gate: rollout.gate,
      matching: reach.matching,
      phases: rollout.phases.map((p, i) => ({ index: i, percent: p.percent, devices: reach.perPhase[i]!, healthyToPromote: healthyToPromote(p, rollout.gate) })),
    }
  }

  private unknownReservation(id: string) {
    return conflict('ROLLOUT_RESERVATION_UNKNOWN', `rollout id ${id} is not reserved (unknown, already used, or older than ${RESERVATION_SECONDS} s): run the dry run again`, { id })
  }

  private async prepare(input: RolloutInput, actor: Actor, id?: string): Promise<{ rollout: Rollout; release: Release }> {
    checkPhases(input.phases)
    const gate = gateOf({ ...(input.gatePreset && GATE_PRESETS[input.gatePreset]), ...input.gate })
    const release = await this.resolveRelease(input.release)
    const now = this.now().toISOString()
    const rollout: Rollout = {
      id: id ?? randomUUID(),
      releaseId: release.id,
      selector: await this.selectorOf(input.selector),
      phases: input.phases,
      gate,
      breachAction: input.breachAction ?? 'pause',
      state: 'draft',
      phase: 0,
      phaseStartedAt: null,
      stateReason: null,
      version: 1,
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
    }
    return { rollout, release }
  }

  /** A selector naming a dynamic group gets that group's fields (its own fields win, tags add up). */
  private async selectorOf(sel: Rollout['selector'] | undefined): Promise<Rollout['selector']> {
    if (sel?.savedGroup === undefined) return sel ?? {}
    const g = await this.fleet.groups.find(sel.savedGroup)
    if (!g) throw notFound('DEVICE_GROUP_NOT_FOUND', `no dynamic group ${sel.savedGroup}`)
    const tags = [...new Set([...(g.selector.tags ?? []), ...(sel.tags ?? [])])]
    return { ...g.selector, ...sel, ...(tags.length && { tags }) }
  }

  /** How many matching devices each phase reaches now (cumulative). */
  private async reach(r: Rollout, rel: Release): Promise<{ matching: number; perPhase: number[] }> {
    const perPhase = r.phases.map(() => 0)
    let matching = 0
    let after: string | undefined
    const hardware = r.selector.hardware !== undefined ? [r.selector.hardware].filter((h) => rel.hardware.includes(h)) : rel.hardware
    for (;;) {
      const page = await this.fleet.devices.page({ hardware, ...(r.selector.group !== undefined && { group: r.selector.group }) }, after, 2000)
      for (const d of page) {
        if (selectorMisses(r.selector, rel, d) !== undefined) continue
        matching++
        const k = phaseOf(cohortPosition(r.id, d.id), r.phases)
        if (k >= 0) for (let i = k; i < perPhase.length; i++) perPhase[i]!++
      }
      if (page.length < 2000) break
      after = page[page.length - 1]!.id
    }
    return { matching, perPhase }
  }

  async get(id: string): Promise<Rollout> {
    const r = await this.fleet.rollouts.findById(id)
    if (!r) throw notFound('ROLLOUT_NOT_FOUND', `no rollout ${id}`)
    return r
  }

  list(q: { state?: RolloutState; limit: number; after?: string }): Promise<Rollout[]> {
    return this.fleet.rollouts.list(q)
  }

  /** The rollout with live per-phase counts and, while running, the gate's figures. */
  async view(id: string, opts: { reach?: boolean } = {}): Promise<RolloutView> {
    const r = await this.get(id)
    const rel = (await this.caches.release(r.releaseId))!
    const per = await this.fleet.members.counts(r.id, this.silentBefore(r))
    const reach = opts.reach ? await this.reach(r, rel) : undefined
    const phases = r.phases.map((p, i) => ({ index: i, ...p, healthyToPromote: healthyToPromote(p, r.gate), members: per.get(i) ?? ZERO, ...(reach && { reach: reach.perPhase[i]! }) }))
    const totals = phases.reduce((a, p) => add(a, p.members), ZERO)
    const view: RolloutView = { rollout: r, release: { id: rel.id, name: rel.name, version: rel.version, securityVersion: rel.securityVersion }, phases, totals }
    if (r.state === 'running' || r.state === 'paused') view.gate = evaluateGate(r, totals, await this.metricVerdicts(r, rel), this.now())
    return view
  }

  private silentBefore(r: Rollout): string {
    return new Date(this.now().getTime() - r.gate.silentAfterSeconds * 1000).toISOString()
  }

  private async metricVerdicts(r: Rollout, rel: Release): Promise<MetricVerdict[]> {
    const out: MetricVerdict[] = []
    for (const m of r.gate.metrics ?? []) {
      if (m.maxRatioToPrevious === undefined) continue
      const values = await this.fleet.members.metricValues(r.id, m.name)
      // the same minimum sample as the failure rate: one slow device is not a trend
      const mine = values.length >= r.gate.minSample ? median(values) : undefined
      if (mine === undefined) continue
      const base = median(await this.fleet.devices.metricValues(rel.name, rel.version, m.name, 10_000))
      const ratio = base ? mine / base : null
      out.push({ name: m.name, median: mine, baseline: base ?? null, ratio, limit: m.maxRatioToPrevious, breached: ratio !== null && ratio > m.maxRatioToPrevious })
    }
    return out
  }

  /** An operator action. */
  async act(id: string, action: RolloutAction, actor: Actor, reason: string | null): Promise<Rollout> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.get(id)
      const to = nextState(action, r.state)
      const now = this.now().toISOString()
      let next: Rollout = { ...r, state: to, version: r.version + 1, updatedAt: now, stateReason: reason }
      if (action === 'start') next = { ...next, phase: 0, phaseStartedAt: now }
      if (action === 'resume') next = { ...next, phaseStartedAt: r.phaseStartedAt ?? now }
      if (action === 'promote')
        next = r.phase + 1 >= r.phases.length ? { ...next, state: 'completed' } : { ...next, phase: r.phase + 1, phaseStartedAt: now }
      if (action === 'rollback') await this.checkRollback(r)
      if (await this.transition(r, next, actor, `rollout.${action}`, reason)) return next
      if (attempt >= 3) throw conflict('ROLLOUT_CONCURRENT_CHANGE', `rollout ${id} kept changing underneath; try again`)
    }
  }

  /** Rollback needs every installed member to be able to go back: same securityVersion. */
  private async checkRollback(r: Rollout): Promise<void> {
    const why = await this.rollbackBlocker(r)
    if (why) throw conflict('ROLLBACK_SECURITY_VERSION', why.message, why.details)
  }

  private async rollbackBlocker(r: Rollout): Promise<{ message: string; details: Record<string, unknown> } | undefined> {
    const rel = (await this.caches.release(r.releaseId))!
    const lower = await this.fleet.members.previousSecurityVersionsBelow(r.id, rel.securityVersion)
    if (!lower.length) return undefined
    return {
      message: `release ${rel.name}@${rel.version} has securityVersion ${rel.securityVersion}; devices that ran ${lower.join(', ')} (lower securityVersion) would refuse the older image, so this rollout can only be paused or aborted`,
      details: { securityVersion: rel.securityVersion, previousVersions: lower },
    }
  }

  /** The gate's automatic step for a running rollout; returns what happened. */
  async evaluate(id: string): Promise<{ decision?: GateDecision; transitioned: boolean }> {
    const r = await this.fleet.rollouts.findById(id)
    if (!r || r.state !== 'running') return { transitioned: false }
    const rel = (await this.caches.release(r.releaseId))!
    const per = await this.fleet.members.counts(r.id, this.silentBefore(r))
    const totals = [...per.values()].reduce(add, ZERO)
    const decision = evaluateGate(r, totals, await this.metricVerdicts(r, rel), this.now())
    if (decision.verdict === 'wait') return { decision, transitioned: false }
    const now = this.now().toISOString()
    const base = { ...r, version: r.version + 1, updatedAt: now, stateReason: decision.reason }
    let next: Rollout
    let action: string
    if (decision.verdict === 'promote') {
      next = { ...base, phase: r.phase + 1, phaseStartedAt: now }
      action = 'rollout.promote'
    } else if (decision.verdict === 'complete') {
      next = { ...base, state: 'completed' }
      action = 'rollout.complete'
    } else if (r.breachAction === 'rollback') {
      const blocker = await this.rollbackBlocker(r)
      next = blocker ? { ...base, state: 'paused', stateReason: `${decision.reason}; rollback impossible: ${blocker.message}` } : { ...base, state: 'rolled_back' }
      action = blocker ? 'rollout.pause' : 'rollout.rollback'
    } else {
      next = { ...base, state: 'paused' }
      action = 'rollout.pause'
    }
    const transitioned = await this.transition(r, next, 'system:gate', action, next.stateReason, decision)
    return { decision, transitioned }
  }

  private async transition(before: Rollout, next: Rollout, actor: Actor, action: string, reason: string | null, decision?: GateDecision): Promise<boolean> {
    const won = await this.fleet.transaction(async (tx) => {
      if (!(await tx.rollouts.compareAndSet(next))) return false
      await tx.audit.append(
        { actor, action, subject: `rollout:${next.id}`, reason, before: summary(before), after: { ...summary(next), ...(decision && { figures: decision.figures }) } },
        next.updatedAt,
      )
      return true
    })
    if (won) {
      this.caches.invalidate()
      this.onTransition(next, action)
    }
    return won
  }

  /** Running rollouts, for the periodic tick. */
  async running(): Promise<Rollout[]> {
    return (await this.fleet.rollouts.live()).filter((r) => r.state === 'running')
  }
}

const summary = (r: Rollout) => ({ state: r.state, phase: r.phase, version: r.version })

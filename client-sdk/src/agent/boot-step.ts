/**
 * After `marked-try`: reboot into the trial, health-check it, commit or roll
 * back. Where the device is comes from the bootloader (`slots.status()`), not
 * from memory, so this resumes correctly however the last run ended (killed,
 * rebooted, power cut, trial boot failed):
 *
 * | journal step                 | status                                 | action |
 * |------------------------------|----------------------------------------|--------|
 * | marked-try / rebooting       | trial pending, booted the old slot     | report `rebooting`, reboot |
 * | any before commit            | trial running (booted === trying)      | health checks → commit or roll back |
 * | any before commit            | no trial, booted === active === target | commit happened: finish it (`succeeded`) |
 * | any before commit            | no trial, booted target, active old    | rollback happened: report `rolled-back`, reboot |
 * | any before commit            | no trial, booted the old slot          | the trial boot failed: `rolled-back`, BOOT_FAILED |
 * | terminal                     | no trial, booted !== active            | a reboot is still owed: reboot |
 */
import { rm } from 'node:fs/promises'
import { AgentError, reasonOf, type Reason } from '../errors.js'
import { runHealthChecks } from '../health/checks.js'
import { runCommand } from '../health/run-command.js'
import type { UpdateContext, StepOutcome } from './context.js'
import { emit, emitHealth, reportTerminal } from './events.js'
import { failpoint } from './failpoint.js'

const BOOT_STEPS = new Set(['marked-try', 'rebooting', 'health-checking'])

/** True when the journal or the bootloader says the boot phase has work to do. */
export async function bootPhasePending(ctx: UpdateContext): Promise<boolean> {
  const u = ctx.journal.update
  if (u && u.release.kind === 'os-image' && BOOT_STEPS.has(u.step)) return true
  const st = await ctx.slots.status()
  return st.trying === undefined && st.booted !== st.active
}

export async function runBootPhase(ctx: UpdateContext): Promise<StepOutcome> {
  const { journal, slots } = ctx
  const u = journal.update
  const st = await slots.status()
  if (!u || u.release.kind !== 'os-image' || !BOOT_STEPS.has(u.step)) {
    if (st.trying === undefined && st.booted !== st.active) return reboot(ctx)
    return 'idle'
  }
  const target = u.targetSlot
  if (st.trying === target && st.booted !== target) {
    if (u.step !== 'rebooting') await journal.step('rebooting')
    await emit(ctx, u, 'rebooting')
    failpoint('rebooting')
    return reboot(ctx)
  }
  if (st.trying === target && st.booted === target) return healthCheck(ctx)
  if (st.trying === undefined && st.booted === target && st.active === target) return finishCommit(ctx)
  if (st.trying === undefined && st.booted === target) {
    const reason = u.reason ?? { code: 'HEALTH_CHECK_FAILED', message: 'rolled back after a failed health check' }
    await finishRollback(ctx, reason)
    return reboot(ctx)
  }
  // not on the target, no trial left: the bootloader gave up on the trial boot
  const reason: Reason = { code: 'BOOT_FAILED', message: `the trial boot of slot ${target} did not come up; the bootloader fell back to slot ${st.booted}` }
  await emitHealth(ctx, u, false, [], {})
  await finishRollback(ctx, reason)
  return 'rolled-back'
}

async function healthCheck(ctx: UpdateContext): Promise<StepOutcome> {
  const { journal, slots } = ctx
  if (journal.update?.step !== 'health-checking') await journal.step('health-checking')
  const u = journal.update!
  await emit(ctx, u, 'health-checking')
  failpoint('health-checking')
  const result = await runHealthChecks(ctx.config.health ?? {})
  await emitHealth(ctx, u, true, result.checks, result.metrics)
  if (result.ok) {
    await slots.commit()
    failpoint('committed-unjournaled')
    return finishCommit(ctx)
  }
  const bad = result.checks.find((c) => !c.ok)!
  const reason: Reason = { code: 'HEALTH_CHECK_FAILED', message: `${bad.name} failed${bad.output ? `: ${bad.output.slice(-500)}` : ''}` }
  // the reason goes to disk before the rollback, so a restart after it still reports why
  await journal.step('health-checking', { reason })
  await slots.rollback()
  failpoint('rolled-back-unjournaled')
  await finishRollback(ctx, reason)
  return reboot(ctx)
}

async function finishCommit(ctx: UpdateContext): Promise<StepOutcome> {
  const { journal } = ctx
  const u = journal.update!
  await journal.change((s) => {
    const r = u.release
    s.os = { name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion }
    s.securityVersion = Math.max(s.securityVersion, r.securityVersion)
    if (s.update) Object.assign(s.update, { step: 'committed', at: new Date().toISOString() })
    delete s.update?.reason
  })
  failpoint('committed')
  await reportTerminal(ctx)
  await rm(ctx.stagingDir, { recursive: true, force: true }).catch(() => undefined)
  return 'committed'
}

async function finishRollback(ctx: UpdateContext, reason: Reason): Promise<void> {
  await ctx.journal.step('rolled-back', { reason })
  failpoint('rolled-back')
  await reportTerminal(ctx)
  await rm(ctx.stagingDir, { recursive: true, force: true }).catch(() => undefined)
}

/** Run the reboot command. On a real device the process is stopped by the reboot; a failed command is logged and retried next tick. */
export async function reboot(ctx: UpdateContext): Promise<StepOutcome> {
  const argv = ctx.config.rebootCommand ?? (await ctx.slots.rebootCommand())
  ctx.log('info', 'rebooting', { argv })
  const r = await runCommand(argv, 120_000)
  if (!r.ok) {
    const e = new AgentError('REBOOT_FAILED', `${argv.join(' ')} failed: ${r.output.slice(-300)}`)
    ctx.log('error', 'reboot command failed', reasonOf(e) as unknown as Record<string, unknown>)
    return 'retry-later'
  }
  return 'reboot-issued'
}

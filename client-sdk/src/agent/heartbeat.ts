/**
 * Heartbeats (DEVICE-API.md: health reports "as heartbeats afterwards"): every
 * `heartbeatSeconds`, the configured health checks run against what is
 * committed and go out as a health report, so the rollout engine sees a device
 * that is alive and well after the update, not only at the moment it booted.
 */
import { runHealthChecks } from '../health/checks.js'
import { newId } from '../report/ids.js'
import type { UpdateContext } from './context.js'

export class Heartbeat {
  #last = 0

  constructor(
    private readonly everySeconds: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  due(): boolean {
    return Boolean(this.everySeconds) && this.now() - this.#last >= (this.everySeconds as number) * 1000
  }

  async beat(ctx: UpdateContext): Promise<void> {
    this.#last = this.now()
    const os = ctx.journal.state.os
    if (!os) return
    const u = ctx.journal.update
    // the rollout that brought this release, if the last update did
    const rolloutId = u && u.step === 'committed' && u.release.name === os.name && u.release.version === os.version ? u.rolloutId : undefined
    const r = await runHealthChecks(ctx.config.health ?? {})
    await ctx.reporter.report({
      kind: 'health',
      body: {
        id: newId(),
        ...(rolloutId ? { rolloutId } : {}),
        release: { name: os.name, version: os.version },
        bootOk: true,
        checks: r.checks,
        metrics: r.metrics,
        at: new Date().toISOString(),
      },
    })
  }
}

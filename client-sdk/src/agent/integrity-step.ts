/**
 * Scheduled integrity checks (issue 12 §4): every `integrityIntervalSeconds` (default
 * a day) the agent re-hashes the active OS slot and each live model against the
 * sha256 CI signed for it. Drift goes out as an `integrity` security event naming the
 * first 1 MiB region that differs; a check past `integrityBudgetSeconds` goes out as
 * `integrity-timeout`, never as success.
 *
 * Signed metadata carries one sha256 per artifact, not per MiB, so the regions are
 * compared with the ones recorded in `<dataDir>/integrity/<sha256>.json` the first
 * time a check found that content intact (null when none was recorded yet).
 */
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { readJson, writeJsonDurable } from '../journal/atomic-file.js'
import { TERMINAL_STEPS } from '../journal/journal.js'
import { firstDifferingRegion, hashRegions, HashTimeout, type RegionHashes } from '../integrity/hash-regions.js'
import { ModelStore } from '../models/index.js'
import type { IntegrityFinding } from '../net/device-api.js'
import { newId } from '../report/ids.js'
import type { UpdateContext } from './context.js'

export interface IntegrityTarget {
  target: 'os' | 'model'
  release: { name: string; version: string }
  sha256: string
  path: string
  length?: number
}

export interface IntegrityResult {
  target: IntegrityTarget
  state: 'ok' | 'drift' | 'timeout' | 'skipped'
  finding?: IntegrityFinding
}

interface Baseline {
  length: number
  mib: string[]
}

export class IntegrityChecker {
  #running: Promise<IntegrityResult[]> | undefined

  constructor(private readonly dataDir: string) {}

  private get stateFile() {
    return join(this.dataDir, 'integrity.json')
  }

  private baselineFile(sha256: string) {
    return join(this.dataDir, 'integrity', `${sha256}.json`)
  }

  /** A scheduled check is due (never with an interval of 0, nor while one runs). */
  async due(ctx: UpdateContext, now = Date.now()): Promise<boolean> {
    const every = ctx.config.integrityIntervalSeconds ?? 86400
    if (!every || this.#running) return false
    const s = await readJson<{ lastRunAt?: string }>(this.stateFile).catch(() => undefined)
    if (!s?.lastRunAt) {
      // the schedule starts now: the first check runs one interval after the agent first started
      await writeJsonDurable(this.stateFile, { lastRunAt: new Date(now).toISOString(), results: [] })
      return false
    }
    return now - Date.parse(s.lastRunAt) >= every * 1000
  }

  /** Starts a check unless one runs; resolves with its results. */
  run(ctx: UpdateContext): Promise<IntegrityResult[]> {
    this.#running ??= this.#run(ctx).finally(() => (this.#running = undefined))
    return this.#running
  }

  async #run(ctx: UpdateContext): Promise<IntegrityResult[]> {
    const started = Date.now()
    const deadline = started + (ctx.config.integrityBudgetSeconds ?? 3600) * 1000
    const out: IntegrityResult[] = []
    for (const target of await this.targets(ctx)) {
      const r = await this.check(ctx, target, deadline)
      out.push(r)
      if (r.finding) {
        const timeout = r.state === 'timeout'
        await ctx.reporter.report({
          kind: 'security',
          body: {
            id: newId(),
            kind: timeout ? 'integrity-timeout' : 'integrity',
            reason: timeout
              ? { code: 'INTEGRITY_TIMEOUT', message: `the check of ${target.target} ${target.release.name}@${target.release.version} did not finish within its time budget` }
              : { code: 'INTEGRITY_DRIFT', message: `${target.target} ${target.release.name}@${target.release.version} no longer hashes to its signed sha256` },
            integrity: r.finding,
            at: new Date().toISOString(),
          },
        })
      }
      // the budget covers the whole check: what is left after a timeout is not checked (nor claimed to be)
      if (r.state === 'timeout') break
    }
    await writeJsonDurable(this.stateFile, { lastRunAt: new Date(started).toISOString(), results: out.map((r) => ({ target: r.target.target, name: r.target.release.name, state: r.state })) })
    ctx.log('info', 'integrity check done', { results: out.map((r) => `${r.target.release.name}:${r.state}`).join(' ') })
    return out
  }

  /** The active OS slot (outside an update or trial) and every live model. */
  async targets(ctx: UpdateContext): Promise<IntegrityTarget[]> {
    const out: IntegrityTarget[] = []
    const j = ctx.journal.state
    const u = j.update
    const idle = !u || TERMINAL_STEPS.has(u.step)
    if (j.os && idle) {
      const st = await ctx.slots.status().catch(() => undefined)
      if (st && !st.trying && st.booted === st.active) {
        const length = u && u.release.sha256 === j.os.sha256 ? u.release.length : undefined
        out.push({ target: 'os', release: { name: j.os.name, version: j.os.version }, sha256: j.os.sha256, path: ctx.slots.slotPath(st.active), ...(length !== undefined ? { length } : {}) })
      }
    }
    if (ctx.config.models && (idle || u?.release.kind !== 'model')) {
      for (const m of Object.values(j.models)) {
        const store = new ModelStore({ dir: join(ctx.config.models.dir, m.name), ...(ctx.config.models.fileName ? { fileName: ctx.config.models.fileName } : {}) })
        out.push({ target: 'model', release: { name: m.name, version: m.version }, sha256: m.sha256, path: store.currentPath() })
      }
    }
    return out
  }

  private async check(ctx: UpdateContext, t: IntegrityTarget, deadline: number): Promise<IntegrityResult> {
    const baseline = await readJson<Baseline>(this.baselineFile(t.sha256)).catch(() => undefined)
    let length = t.length ?? baseline?.length
    if (length === undefined) {
      const st = await stat(t.path).catch(() => undefined)
      // a partition is longer than its image: without the image length its hash means nothing
      if (!st?.isFile()) {
        ctx.log('warn', 'integrity: length of the image in the slot unknown; not checked', { path: t.path })
        return { target: t, state: 'skipped' }
      }
      length = st.size
    }
    const started = Date.now()
    let h: RegionHashes
    try {
      h = await hashRegions(t.path, { length, deadline })
    } catch (e) {
      if (!(e instanceof HashTimeout)) {
        // unreadable (a model file gone, a slot device missing) is drift too: the signed content is not there
        const finding: IntegrityFinding = { target: t.target, release: t.release, sha256: t.sha256, firstDifferingMiB: 0, checkedBytes: 0, elapsedMs: Date.now() - started }
        ctx.log('error', 'integrity: target unreadable', { path: t.path, message: (e as Error).message })
        return { target: t, state: 'drift', finding }
      }
      return { target: t, state: 'timeout', finding: { target: t.target, release: t.release, sha256: t.sha256, checkedBytes: e.bytes, elapsedMs: Date.now() - started } }
    }
    if (h.sha256 === t.sha256 && h.bytes === length) {
      if (!baseline) {
        await mkdir(join(this.dataDir, 'integrity'), { recursive: true, mode: 0o700 })
        await writeJsonDurable(this.baselineFile(t.sha256), { length, mib: h.mib } satisfies Baseline)
      }
      return { target: t, state: 'ok' }
    }
    const first = baseline ? (firstDifferingRegion(h.mib, baseline.mib) ?? null) : null
    ctx.log('error', 'integrity drift', { target: t.target, name: t.release.name, firstDifferingMiB: first })
    return {
      target: t,
      state: 'drift',
      finding: { target: t.target, release: t.release, sha256: t.sha256, actual: h.sha256, firstDifferingMiB: first, checkedBytes: h.bytes, elapsedMs: Date.now() - started },
    }
  }
}

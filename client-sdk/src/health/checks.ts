/**
 * Post-boot health checks (issue 6): systemd units active, HTTP probes, custom
 * commands (a model's smoke inference is in models/smoke-test.ts).
 * Each check yields { name, ok, output } as DEVICE-API.md's health report wants;
 * a check is retried `attempts` times so a unit that is still starting is not
 * a failure.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { runCommand, TAIL_BYTES } from './run-command.js'

export interface HttpProbe {
  /** report name (default `http:<url>`) */
  name?: string
  url: string
  /** status that counts as healthy (default 200) */
  expectStatus?: number
  /** ms (default 5000) */
  timeoutMs?: number
}

export interface CommandCheck {
  name: string
  argv: string[]
  /** seconds (default 60) */
  timeoutSeconds?: number
}

export interface HealthConfig {
  /** systemd units that must be `active` (`systemctl is-active UNIT`) */
  units?: string[]
  http?: HttpProbe[]
  commands?: CommandCheck[]
  /** seconds to wait after boot before the first check (default 0) */
  settleSeconds?: number
  /** tries per check before it counts as failed (default 3) */
  attempts?: number
  /** seconds between tries (default 5) */
  retryDelaySeconds?: number
  /** systemctl binary (default `systemctl`) */
  systemctl?: string
}

export interface CheckResult {
  name: string
  ok: boolean
  output?: string
}

export interface HealthResult {
  ok: boolean
  checks: CheckResult[]
  metrics: Record<string, number>
}

async function retrying(c: HealthConfig, run: () => Promise<CheckResult>): Promise<CheckResult> {
  const attempts = Math.max(1, c.attempts ?? 3)
  let r: CheckResult = { name: '', ok: false }
  for (let i = 0; i < attempts; i++) {
    r = await run()
    if (r.ok) return r
    if (i + 1 < attempts) await sleep((c.retryDelaySeconds ?? 5) * 1000)
  }
  return r
}

async function probe(p: HttpProbe): Promise<CheckResult> {
  const name = (p.name ?? `http:${p.url}`).slice(0, 128)
  try {
    const res = await fetch(p.url, { signal: AbortSignal.timeout(p.timeoutMs ?? 5000), redirect: 'manual' })
    const text = (await res.text()).slice(-TAIL_BYTES)
    const ok = res.status === (p.expectStatus ?? 200)
    return { name, ok, ...(ok ? {} : { output: `status ${res.status}: ${text}` }) }
  } catch (e) {
    return { name, ok: false, output: (e as Error).message }
  }
}

export async function runHealthChecks(c: HealthConfig): Promise<HealthResult> {
  if (c.settleSeconds) await sleep(c.settleSeconds * 1000)
  const checks: CheckResult[] = []
  for (const unit of c.units ?? []) {
    checks.push(
      await retrying(c, async () => {
        const r = await runCommand([c.systemctl ?? 'systemctl', 'is-active', unit], 10_000)
        return { name: `unit:${unit}`, ok: r.ok, ...(r.ok ? {} : { output: r.output.trim() }) }
      }),
    )
  }
  for (const p of c.http ?? []) checks.push(await retrying(c, () => probe(p)))
  for (const cmd of c.commands ?? []) {
    checks.push(
      await retrying(c, async () => {
        const r = await runCommand(cmd.argv, (cmd.timeoutSeconds ?? 60) * 1000)
        return { name: `command:${cmd.name}`, ok: r.ok, ...(r.ok ? {} : { output: r.output.trim() || `exit ${r.exitCode}` }) }
      }),
    )
  }
  return { ok: checks.every((x) => x.ok), checks, metrics: {} }
}

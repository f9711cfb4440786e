/**
 * The model smoke test: run a configured command (e.g. one short inference against
 * `current/model.gguf`), with a hard timeout and a latency budget, and keep the tail
 * of its output for the failure report. Never throws: every outcome is a result.
 */
import { spawn } from 'node:child_process'

export interface SmokeTestOptions {
  /** argv, run without a shell */
  command: string[]
  /** killed (SIGKILL, whole process group) after this many milliseconds */
  timeoutMs: number
  /** passes only if it exits 0 within this many milliseconds; default: no budget beyond the timeout */
  latencyBudgetMs?: number
  cwd?: string
  /** added to the agent's environment (e.g. SLIPWAY_MODEL_PATH) */
  env?: Record<string, string>
  /** bytes of combined stdout+stderr kept; default 4096 */
  tailBytes?: number
}

export type SmokeTestFailure = 'spawn-failed' | 'exit-code' | 'timeout' | 'over-budget'

export interface SmokeTestResult {
  ok: boolean
  /** why it failed; unset when ok */
  failure?: SmokeTestFailure
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** wall time from spawn to exit, milliseconds */
  durationMs: number
  /** the last `tailBytes` of stdout and stderr, interleaved as they arrived */
  outputTail: string
}

export function runSmokeTest(opts: SmokeTestOptions): Promise<SmokeTestResult> {
  const tailBytes = opts.tailBytes ?? 4096
  const [file, ...args] = opts.command
  const started = performance.now()
  let tail = Buffer.alloc(0)
  const keep = (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk])
    if (tail.length > tailBytes) tail = tail.subarray(tail.length - tailBytes)
  }
  return new Promise((resolve) => {
    if (!file) {
      resolve({ ok: false, failure: 'spawn-failed', exitCode: null, signal: null, durationMs: 0, outputTail: 'empty smoke-test command' })
      return
    }
    // detached: its own process group, so the timeout kills the model runner's children too
    const child = spawn(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let timedOut = false
    let settled = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }, opts.timeoutMs)
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const finish = (r: Omit<SmokeTestResult, 'durationMs' | 'outputTail'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ ...r, durationMs: Math.round(performance.now() - started), outputTail: tail.toString('utf8') })
    }
    child.on('error', (e) => {
      keep(Buffer.from(`${e.message}\n`))
      finish({ ok: false, failure: 'spawn-failed', exitCode: null, signal: null })
    })
    child.on('close', (exitCode, signal) => {
      const durationMs = performance.now() - started
      let failure: SmokeTestFailure | undefined
      if (timedOut) failure = 'timeout'
      else if (exitCode !== 0) failure = 'exit-code'
      else if (opts.latencyBudgetMs !== undefined && durationMs > opts.latencyBudgetMs) failure = 'over-budget'
      finish(failure ? { ok: false, failure, exitCode, signal } : { ok: true, exitCode, signal })
    })
  })
}

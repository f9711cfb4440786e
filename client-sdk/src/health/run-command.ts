/** Run a check command without a shell, with a timeout, keeping the tail of its output for the report. */
import { spawn } from 'node:child_process'

export interface CommandResult {
  ok: boolean
  exitCode: number | null
  /** last bytes of stdout+stderr, or why it did not run */
  output: string
  ms: number
}

export const TAIL_BYTES = 2000

export function runCommand(argv: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    let out = ''
    const keep = (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-TAIL_BYTES)
    }
    const [cmd, ...args] = argv
    if (!cmd) return resolve({ ok: false, exitCode: null, output: 'empty command', ms: 0 })
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env })
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve({ ok: false, exitCode: null, output: `${cmd}: ${e.message}`, ms: Date.now() - started })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      const ms = Date.now() - started
      if (timedOut) return resolve({ ok: false, exitCode: code, output: `${out}\n(timed out after ${timeoutMs} ms)`.slice(-TAIL_BYTES), ms })
      resolve({ ok: code === 0, exitCode: code, output: out, ms })
    })
  })
}

/**
 * Runs a bootloader tool (argv, no shell) and translates its failures into
 * SlotErrors at the adapter boundary: not installed → SLOT_TOOL_MISSING.
 */
import { execFile } from 'node:child_process'
import { SlotError } from './errors.js'

export interface ToolResult {
  stdout: string
  stderr: string
  /** exit code, 0 on success */
  code: number
}

/** Run `argv`; resolves for any exit code (callers decide), rejects only when it cannot start. */
export function runTool(argv: readonly string[], timeoutMs = 30_000): Promise<ToolResult> {
  const [file, ...args] = argv
  if (!file) throw new SlotError('SLOT_BAD_CONFIG', 'empty tool command')
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new SlotError('SLOT_TOOL_MISSING', `${file} not found: install it (Debian: ${packageHint(file)})`, { tool: file }, { cause: err }))
        return
      }
      if (err && typeof err.code !== 'number') {
        reject(new SlotError('SLOT_TOOL_FAILED', `${file} could not run: ${err.message}`, { tool: file }, { cause: err }))
        return
      }
      resolve({ stdout, stderr, code: err ? (err.code as number) : 0 })
    })
  })
}

function packageHint(file: string): string {
  const base = file.split('/').pop() ?? file
  if (base.startsWith('fw_')) return 'libubootenv-tool'
  if (base.startsWith('grub-')) return 'grub-common'
  return base
}

export function toolFailed(argv: readonly string[], r: ToolResult): SlotError {
  return new SlotError('SLOT_TOOL_FAILED', `${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-500)}`, {
    tool: argv[0],
    exitCode: r.code,
    stderr: r.stderr.slice(-2000),
  })
}

/** `name=value` lines, as `fw_printenv` and `grub-editenv list` print them. */
export function parseEnvLines(stdout: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return env
}

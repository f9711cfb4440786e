/**
 * Replaying recorded mutants: what CI's sampled check (test/mutation/sampled-kills.test.ts)
 * needs from a committed incremental report. A mutant is re-applied to the mutated file
 * as it is now (found by the lines around it when the file changed elsewhere since the
 * report), in a sandbox copy of the repository, and its killing test file is run there.
 */
import { spawn } from 'node:child_process'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'

interface Position {
  /** 1-based */
  line: number
  /** 1-based */
  column: number
}

export interface RecordedMutant {
  id: string
  mutatorName: string
  replacement?: string
  status: string
  killedBy?: string[]
  location: { start: Position; end: Position }
}

export interface IncrementalReport {
  files: Record<string, { source: string; mutants: RecordedMutant[] }>
  testFiles?: Record<string, { source?: string; tests: Array<{ id: string; name: string }> }>
}

/** Offset of a 1-based line and column in `text`. */
function offset(text: string, p: Position): number {
  let at = 0
  for (let line = 1; line < p.line; line++) {
    const nl = text.indexOf('\n', at)
    if (nl < 0) throw new Error(`line ${p.line} is past the end of the text`)
    at = nl + 1
  }
  return at + p.column - 1
}

/**
 * The current text of the mutated file with the mutant applied, or undefined when the
 * mutant cannot be placed: the whole lines it spans (as recorded) must occur exactly
 * once in the current text, so an edit elsewhere in the file does not matter but an
 * edit of those lines (or a copy of them) does.
 */
export function applyMutant(recorded: string, current: string, m: RecordedMutant): string | undefined {
  if (m.replacement === undefined) return undefined
  const start = offset(recorded, m.location.start)
  const end = offset(recorded, m.location.end)
  if (recorded === current) return current.slice(0, start) + m.replacement + current.slice(end)
  const from = recorded.lastIndexOf('\n', start - 1) + 1
  const nl = recorded.indexOf('\n', Math.max(end - 1, from))
  const to = nl < 0 ? recorded.length : nl
  const lines = recorded.slice(from, to)
  const found = current.indexOf(lines)
  if (found < 0 || current.indexOf(lines, found + 1) >= 0) return undefined
  const shift = found - from
  return current.slice(0, start + shift) + m.replacement + current.slice(end + shift)
}

/** A small seeded generator (LCG), so a sample can be replayed from its seed. */
export function seeded(seed: number): (n: number) => number {
  let x = seed >>> 0
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    return Math.floor((x / 2 ** 32) * n)
  }
}

/** `n` distinct items of `items`, in a seeded order. */
export function pick<T>(items: readonly T[], n: number, r: (n: number) => number): T[] {
  const pool = [...items]
  const out: T[] = []
  while (out.length < n && pool.length) out.push(pool.splice(r(pool.length), 1)[0]!)
  return out
}

/** The test file names of a report by test id (the tap runner's unit is a file). */
export function testNames(report: IncrementalReport): Map<string, string> {
  const names = new Map<string, string>()
  for (const f of Object.values(report.testFiles ?? {})) for (const t of f.tests) names.set(t.id, t.name)
  return names
}

const LEAVE_OUT = new Set(['node_modules', '.git', '.tap', '.stryker-tmp', 'reports'])

/** A copy of the repository (without .git and build output) whose node_modules links to the real one. */
export async function sandbox(root: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-mutant-'))
  await cp(root, dir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(root, src)
      return rel === '' || !LEAVE_OUT.has(rel.split(sep)[0]!)
    },
  })
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

export interface TestRun {
  /** the process exited non-zero */
  failed: boolean
  /** some assertion failed (a `not ok` line), as opposed to a file that did not load */
  notOk: boolean
  timedOut: boolean
  output: string
  ms: number
}

/** Runs one tap test file the way Stryker's tap runner does: `node --import tsx FILE`, bailing at the first failure. */
export function runTestFile(cwd: string, file: string, timeoutMs: number): Promise<TestRun> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd,
      env: { ...process.env, TAP_BAIL: '1', TAP_COLOR: '0', TSX_DISABLE_CACHE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      process.kill(-child.pid!, 'SIGKILL')
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ failed: code !== 0, notOk: /^\s*not ok /m.test(output), timedOut, output, ms: Date.now() - started })
    })
  })
}

/**
 * `npm run mutate:check [-- --area verify] [--run] [--budget-minutes 5]`
 *
 * The CI side of mutation testing (issue 18): it does not run the full pass. For each
 * area it checks that the committed incremental report (test/mutation/reports/) was
 * made from the files as they are now, the mutated files and the tests alike, and
 * that the score it records is at least the goal. Up to date: a second or two.
 *
 * With --measured-only, only what the reports already cover is checked (files and tests
 * not in a report, and areas without one, are listed but do not fail): usable in CI
 * while some areas are still to be measured.
 *
 * With --run, a stale area is brought up to date first by an incremental Stryker run on
 * its changed files only, killed when the budget is spent (then the check fails and
 * names the command to run locally and commit).
 */
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { areaNames, areas, breakScore, inArea, incrementalFile, type AreaName } from './areas.js'
import { describe, score, tally } from './score.js'

interface IncrementalReport {
  files: Record<string, { source: string; mutants: { status: string }[] }>
  testFiles?: Record<string, { source?: string }>
}

const { values } = parseArgs({
  options: {
    area: { type: 'string', multiple: true },
    run: { type: 'boolean', default: false },
    'budget-minutes': { type: 'string', default: '5' },
    'measured-only': { type: 'boolean', default: false },
  },
})
const chosen = (values.area ?? areaNames) as AreaName[]
for (const a of chosen) if (!(a in areas)) throw new Error(`unknown area "${a}"; the areas are: ${areaNames.join(', ')}`)
const deadline = Date.now() + Number(values['budget-minutes']) * 60_000

/** The files an area mutates, as they are on disk now. */
async function areaFiles(area: AreaName): Promise<string[]> {
  const dirs = new Set(areas[area].mutate.filter((p) => !p.startsWith('!')).map((p) => dirname(p)))
  const files: string[] = []
  for (const d of dirs) for (const f of await readdir(d)) if (inArea(area, `${d}/${f}`)) files.push(`${d}/${f}`)
  return files.sort()
}

const readIf = (path: string) => readFile(path, 'utf8').catch(() => undefined)

interface Staleness {
  report?: IncrementalReport
  /** Mutated files whose content is not the one the report was made from. */
  changedSources: string[]
  /** Covering tests that changed, were added or left the area since the report. */
  changedTests: string[]
}

async function staleness(area: AreaName): Promise<Staleness> {
  const text = await readIf(incrementalFile(area))
  const report = text === undefined ? undefined : (JSON.parse(text) as IncrementalReport)
  const files = await areaFiles(area)
  const changedSources: string[] = []
  for (const f of new Set([...files, ...Object.keys(report?.files ?? {})])) {
    if (!files.includes(f) || (await readIf(f)) !== report?.files[f]?.source) changedSources.push(f)
  }
  const tests: readonly string[] = areas[area].tests
  const changedTests: string[] = []
  for (const f of new Set([...tests, ...Object.keys(report?.testFiles ?? {})])) {
    const recorded = report?.testFiles?.[f]?.source
    if (!tests.includes(f) || recorded === undefined || (await readIf(f)) !== recorded) changedTests.push(f)
  }
  if (!values['measured-only']) return { report, changedSources, changedTests }
  return {
    report,
    changedSources: changedSources.filter((f) => f in (report?.files ?? {})),
    changedTests: changedTests.filter((f) => f in (report?.testFiles ?? {})),
  }
}

/** An incremental Stryker run on the changed files, stopped at the deadline. Resolves to whether it finished. */
function mutate(area: AreaName, only: string[]): Promise<boolean> {
  const args = ['--import', 'tsx', 'test/mutation/mutate.ts', '--area', area, ...only.flatMap((f) => ['--only', f])]
  console.log(`  running: node ${args.join(' ')}`)
  // Its own process group, so the budget stops Stryker's checker and test runner too.
  const child = spawn(process.execPath, args, { stdio: 'inherit', detached: true })
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), Math.max(0, deadline - Date.now()))
  return new Promise((resolve) => child.on('exit', (_code, signal) => (clearTimeout(timer), resolve(signal === null))))
}

let failed = false
for (const area of chosen) {
  let s = await staleness(area)
  const stale = () => !s.report || s.changedSources.length > 0 || s.changedTests.length > 0
  if (stale() && values.run) {
    // A changed test can change the verdict on any mutant it covers: then the whole area runs.
    const only = s.changedTests.length > 0 || !s.report ? [] : s.changedSources.filter((f) => inArea(area, f))
    const finished = await mutate(area, only)
    if (!finished) console.log(`  ${area}: the ${values['budget-minutes']}-minute budget ran out`)
    s = await staleness(area)
  }
  if (!s.report && values['measured-only']) {
    console.log(`- ${area}: not measured yet (npm run mutate -- --area ${area})`)
    continue
  }
  if (stale()) {
    failed = true
    const recorded = (f: string) => f in (s.report?.files ?? {}) || f in (s.report?.testFiles ?? {})
    const changed = [...s.changedSources, ...s.changedTests].map((f) => (recorded(f) ? f : `${f} (not in the report)`))
    const what = !s.report ? 'there is no report' : `changed since the report: ${changed.join(', ')}`
    console.log(`✗ ${area}: ${what}\n    run \`npm run mutate -- --area ${area}\` and commit ${incrementalFile(area)}`)
    continue
  }
  const t = tally(Object.values(s.report!.files).flatMap((f) => f.mutants.map((m) => m.status)))
  const ok = score(t) >= breakScore
  if (!ok) failed = true
  const covered = Object.keys(s.report!.files).join(', ')
  console.log(`${ok ? '✓' : '✗'} ${area}: report up to date (${covered}); ${describe(t)}${ok ? '' : `, under the goal of ${breakScore}%`}`)
}
process.exitCode = failed ? 1 : 0

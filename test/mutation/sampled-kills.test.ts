/**
 * CI's mutation check (issue 18: "a sampled subset, within 5 minutes"). For every area
 * with a committed incremental report (test/mutation/reports/):
 *
 * - the score the report records is at least the goal (90 %);
 * - a few mutants it records as killed, drawn with a seed, are applied again to the
 *   mutated file as it is now, in a sandbox copy of the repository, and the test file
 *   that killed each one must still fail on it (a `not ok`, or a timeout), after
 *   passing on the unmutated code.
 *
 * So a test edited to no longer catch a bug turns this red, while an edit that keeps
 * the test's strength (a comment, a new case, a rename inside) does not, as a text
 * comparison of the report would. A mutated file changed since the report is fine as
 * long as the lines around a sampled mutant are still there; if they are not, that
 * mutant is not drawn, and the comment names the area to re-run.
 *
 * Seed: the UTC date (a different sample each day), or SLIPWAY_MUTANT_SEED to replay
 * one; SLIPWAY_MUTANTS_PER_AREA (default 2) mutants per area. Runs one test file at a
 * time: about (1 + N) test-file runs per area.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { areaNames, areas, breakScore, incrementalFile } from './areas.js'
import { applyMutant, pick, runTestFile, sandbox, seeded, testNames, type IncrementalReport, type RecordedMutant } from './replay.js'
import { describe, score, tally } from './score.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const seed = Number(process.env.SLIPWAY_MUTANT_SEED ?? new Date().toISOString().slice(0, 10).replaceAll('-', ''))
const perArea = Number(process.env.SLIPWAY_MUTANTS_PER_AREA ?? 2)
const RUN_TIMEOUT_MS = 120_000

t.comment(`seed ${seed} (replay: SLIPWAY_MUTANT_SEED=${seed} npx tap test/mutation/sampled-kills.test.ts)`)

t.test('placing a recorded mutant in the current file', async (t) => {
  const recorded = 'a\nif (x > 1) go()\nz\n'
  const m: RecordedMutant = { id: '1', mutatorName: 'EqualityOperator', replacement: 'x >= 1', status: 'Killed', location: { start: { line: 2, column: 5 }, end: { line: 2, column: 10 } } }
  t.equal(applyMutant(recorded, recorded, m), 'a\nif (x >= 1) go()\nz\n', 'unchanged file: at its recorded place')
  t.equal(applyMutant(recorded, '// new\n\na\nif (x > 1) go()\nz\n', m), '// new\n\na\nif (x >= 1) go()\nz\n', 'lines added above: found by its line')
  t.equal(applyMutant(recorded, 'a\nif (x > 2) go()\nz\n', m), undefined, 'its line was edited: not placed')
  t.equal(applyMutant(recorded, 'if (x > 1) go()\nif (x > 1) go()\n', m), undefined, 'its line occurs twice: not placed')
  t.equal(applyMutant(recorded, recorded, { ...m, replacement: undefined }), undefined, 'no replacement recorded')
  const r = seeded(7)
  t.same(pick([1, 2, 3, 4], 4, r).sort(), [1, 2, 3, 4], 'pick draws without repeating')
  t.same(pick([1, 2, 3], 2, seeded(7)), pick([1, 2, 3], 2, seeded(7)), 'the same seed draws the same')
})

const box = await sandbox(root)
t.teardown(box.remove)

for (const area of areaNames) {
  t.test(area, async (t) => {
    const text = await readFile(incrementalFile(area), 'utf8').catch(() => undefined)
    if (text === undefined) {
      t.pass(`${area}: no report yet (npm run mutate -- --area ${area}), nothing to check`)
      return
    }
    const report = JSON.parse(text) as IncrementalReport
    const all = Object.values(report.files).flatMap((f) => f.mutants.map((m) => m.status))
    t.ok(score(tally(all)) >= breakScore, `${area}: ${describe(tally(all))}, goal ${breakScore}%`)

    const names = testNames(report)
    const tests: readonly string[] = areas[area].tests
    const candidates: Array<{ file: string; m: RecordedMutant; mutated: string; original: string; killer: string }> = []
    const stale: string[] = []
    for (const [file, f] of Object.entries(report.files)) {
      const original = await readFile(`${root}/${file}`, 'utf8').catch(() => undefined)
      if (original !== f.source) stale.push(file)
      if (original === undefined) continue
      for (const m of f.mutants) {
        const killer = names.get(m.killedBy?.[0] ?? '')
        if (m.status !== 'Killed' || !killer || !tests.includes(killer)) continue
        const mutated = applyMutant(f.source, original, m)
        if (mutated !== undefined) candidates.push({ file, m, mutated, original, killer })
      }
    }
    if (stale.length) t.comment(`${area}: changed since the report: ${stale.join(', ')} (npm run mutate -- --area ${area}, then commit the report)`)
    t.ok(candidates.length > 0, `${area}: killed mutants that can be placed in the current files: ${candidates.length}`)
    if (!candidates.length) return

    const r = seeded(seed + area.length * 7919 + area.charCodeAt(0))
    const [killer] = pick([...new Set(candidates.map((c) => c.killer))].sort(), 1, r)
    const baseline = await runTestFile(box.dir, killer!, RUN_TIMEOUT_MS)
    t.notOk(baseline.failed, `${killer} passes on the unmutated code (${baseline.ms} ms)`, baseline.failed ? { output: baseline.output.slice(-3000) } : {})
    if (baseline.failed) return

    for (const c of pick(candidates.filter((c) => c.killer === killer), perArea, r)) {
      const at = `${c.file}:${c.m.location.start.line}:${c.m.location.start.column}`
      const path = `${box.dir}/${c.file}`
      await writeFile(path, c.mutated)
      try {
        const run = await runTestFile(box.dir, killer!, RUN_TIMEOUT_MS)
        const killed = run.timedOut || (run.failed && run.notOk)
        t.ok(killed, `mutant ${c.m.id} (${c.m.mutatorName} → ${JSON.stringify(c.m.replacement)} at ${at}) still killed by ${killer} (${run.ms} ms${run.timedOut ? ', timed out' : ''})`, killed ? {} : { output: run.output.slice(-3000) })
      } finally {
        await writeFile(path, c.original)
      }
    }
  })
}

/**
 * `npm run mutate [-- --area verify --area http] [--only FILE] [--concurrency N] [--force]`
 *
 * Runs Stryker on the critical core one area at a time (see areas.ts), incrementally:
 * each area's report in test/mutation/reports/ is reused, so only mutants in changed
 * code, or covered by changed tests, run again. Commit the updated report.
 */
import { parseArgs } from 'node:util'
import { Stryker } from '@stryker-mutator/core'
import { areaNames, areas, breakScore, inArea, type AreaName } from './areas.js'
import { strykerOptions } from './stryker-options.js'
import { describe, score, tally } from './score.js'

const { values } = parseArgs({
  options: {
    area: { type: 'string', multiple: true },
    only: { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
})

const chosen = (values.area ?? areaNames) as string[]
for (const a of chosen) {
  if (!(a in areas)) {
    console.error(`unknown area "${a}"; the areas are: ${areaNames.join(', ')}`)
    process.exit(2)
  }
}
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)

const lines: string[] = []
let weak = false
for (const area of chosen as AreaName[]) {
  const only = values.only?.filter((f) => inArea(area, f))
  if (values.only && !only?.length) continue
  const started = Date.now()
  const results = await new Stryker(strykerOptions(area, { only, concurrency, force: values.force })).runMutationTest()
  if (results.length === 0) throw new Error(`area ${area}: Stryker produced no mutants (did it fail? see above)`)
  const t = tally(results.map((r) => r.status))
  const minutes = ((Date.now() - started) / 60_000).toFixed(1)
  lines.push(`${area.padEnd(7)} ${describe(t)} in ${minutes} min${only ? ` [only ${only.join(', ')}]` : ''}`)
  if (score(t) < breakScore) weak = true
}

console.log(`\nmutation score per area (goal >= ${breakScore}%):\n${lines.map((l) => `  ${l}`).join('\n')}`)
if (weak) {
  console.log('\nsome area is under the goal: kill its survivors with a test, or list them as equivalent in the README')
  process.exitCode = 1
}

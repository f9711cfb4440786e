/** The Stryker options for one area: shared by `npm run mutate` and `npm run mutate:check`. */
import type { Stryker } from '@stryker-mutator/core'
import { areas, breakScore, incrementalFile, type AreaName } from './areas.js'

/** What `new Stryker(...)` takes (its type lives in @stryker-mutator/api, which is not ours to import). */
type PartialStrykerOptions = ConstructorParameters<typeof Stryker>[0]

export interface RunChoices {
  /** Mutate only these files of the area (default: all of them). */
  only?: string[]
  concurrency?: number
  /** Ignore the incremental report and run every mutant again. */
  force?: boolean
}

export function strykerOptions(area: AreaName, choices: RunChoices = {}): PartialStrykerOptions {
  const a = areas[area]
  return {
    mutate: choices.only?.length ? choices.only : a.mutate,
    testRunner: 'tap',
    // The tap runner starts `node <nodeArgs> <test file>` itself; tsx loads the TypeScript.
    tap: { testFiles: a.tests, nodeArgs: ['--import', 'tsx'], forceBail: true },
    // A test file is the unit: each mutant runs only the test files that reach it.
    coverageAnalysis: 'perTest',
    checkers: ['typescript'],
    tsconfigFile: 'test/mutation/tsconfig.json',
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    incremental: true,
    incrementalFile: incrementalFile(area),
    force: choices.force ?? false,
    ...(choices.concurrency ? { concurrency: choices.concurrency } : {}),
    // The suites talk to real PostgreSQL, Redis and HTTP: a loaded machine is slow, so
    // a mutant times out only well past its dry-run time.
    timeoutMS: 60_000,
    timeoutFactor: 3,
    dryRunTimeoutMinutes: 15,
    thresholds: { high: 95, low: breakScore, break: null },
    reporters: ['clear-text', 'progress', 'json'],
    jsonReporter: { fileName: `reports/mutation/${area}.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    tempDirName: `.stryker-tmp/${area}`,
    // tap's own state: a test run in the work tree while Stryker copies the sandbox
    // deletes files under .tap mid-copy and crashes the run (ENOENT)
    ignorePatterns: ['.tap'],
    cleanTempDir: 'always',
    plugins: ['@stryker-mutator/tap-runner', '@stryker-mutator/typescript-checker'],
  }
}

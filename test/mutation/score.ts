/** Mutation score from mutant statuses, the way Stryker counts it. */
export interface Tally {
  killed: number
  timeout: number
  survived: number
  noCoverage: number
  compileError: number
  other: number
}

export function tally(statuses: Iterable<string>): Tally {
  const t: Tally = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, compileError: 0, other: 0 }
  for (const s of statuses) {
    if (s === 'Killed') t.killed++
    else if (s === 'Timeout') t.timeout++
    else if (s === 'Survived') t.survived++
    else if (s === 'NoCoverage') t.noCoverage++
    else if (s === 'CompileError') t.compileError++
    else t.other++ // Ignored, RuntimeError, Pending: not part of the score
  }
  return t
}

/**
 * Detected / valid mutants, in percent. Mutants that do not compile are not valid (the
 * type checker rejected them); a timeout counts as detected, as in Stryker.
 */
export function score(t: Tally): number {
  const detected = t.killed + t.timeout
  const valid = detected + t.survived + t.noCoverage
  return valid === 0 ? 100 : (100 * detected) / valid
}

export const describe = (t: Tally) =>
  `${score(t).toFixed(1)}% (killed ${t.killed}, timeout ${t.timeout}, survived ${t.survived}, ` +
  `no coverage ${t.noCoverage}; ${t.compileError} did not compile)`

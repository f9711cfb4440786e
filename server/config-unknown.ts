/**
 * SLIPWAY_* variables that nothing reads. A misspelled variable (SLIPWAY_POLL_INTERVAL
 * for SLIPWAY_POLL_INTERVAL_SECONDS) would otherwise be ignored without a word, and the
 * server would run on a default the operator believes they changed.
 */
import { fileSource, loadConfig } from './config.js'

type Source = Record<string, string | undefined>

/** Read by the CLI, the agent or the test helpers rather than by the server's configuration. */
const READ_ELSEWHERE = [
  'SLIPWAY_CONFIG',
  'SLIPWAY_URL',
  'SLIPWAY_TOKEN',
  'SLIPWAY_RELEASE_KEY',
  'SLIPWAY_CLI_STATE',
  'SLIPWAY_ENROLLMENT_TOKEN',
  'SLIPWAY_MODEL_PATH',
  'SLIPWAY_AGENT_FAILPOINT',
  'SLIPWAY_PKCS11_PIN',
]

export interface UnknownVariable {
  name: string
  /** the known variable it most likely meant, when one is close */
  suggestion?: string
}

/** Levenshtein distance, enough for variable names. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]!
}

function nearest(name: string, known: Iterable<string>): string | undefined {
  let best: { name: string; score: number } | undefined
  for (const k of known) {
    // a prefix (SLIPWAY_POLL_INTERVAL → …_SECONDS) is the commonest slip
    const score = k.startsWith(name) || name.startsWith(k) ? 0 : distance(name, k)
    if (!best || score < best.score) best = { name: k, score }
  }
  return best && best.score <= Math.max(3, Math.floor(name.length / 4)) ? best.name : undefined
}

/** The SLIPWAY_* names set in the environment or the SLIPWAY_CONFIG file that nothing reads. */
export function unknownVariables(env: Source = process.env): UnknownVariable[] {
  const read = new Set<string>(READ_ELSEWHERE)
  loadConfig(env, read)
  const known = [...read].filter((n) => n.startsWith('SLIPWAY_'))
  const set = new Set([...Object.keys(fileSource(env)), ...Object.keys(env).filter((n) => env[n] !== undefined && env[n] !== '')])
  return [...set]
    .filter((n) => n.startsWith('SLIPWAY_') && !n.startsWith('SLIPWAY_TEST_') && !read.has(n))
    .sort()
    .map((name) => {
      const suggestion = nearest(name, known)
      return suggestion ? { name, suggestion } : { name }
    })
}

/** One warning line per unknown variable. */
export function unknownVariableWarnings(env: Source = process.env): string[] {
  return unknownVariables(env).map(
    (u) => `unknown variable ${u.name} is ignored${u.suggestion ? `: did you mean ${u.suggestion}?` : ''} (README "Configuration" lists every variable)`,
  )
}

/**
 * Text both databases store exactly as sent, and that hashes the same before and after
 * storage. A lone UTF-16 surrogate is not Unicode: SQLite and PostgreSQL store it as
 * U+FFFD, so a hash of what was sent (the audit chain) no longer matches what is
 * stored. PostgreSQL refuses NUL in text and JSON outright. Both are refused wherever
 * text enters (the HTTP boundary for every route, and the audit log itself).
 */
import { invalid, type SlipwayError } from './errors.js'

/** Deeper JSON than any request needs; deeper input would only cost stack in recursive code. */
export const MAX_NESTING = 32

export type TextProblem = { path: string; problem: 'lone-surrogate' | 'nul' | 'too-deep' | 'not-finite' }

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function textProblem(s: string): TextProblem['problem'] | undefined {
  if (LONE_SURROGATE.test(s)) return 'lone-surrogate'
  if (s.includes('\u0000')) return 'nul'
  return undefined
}

/**
 * The first string (value or object key) that cannot be stored as is, or nesting past
 * MAX_NESTING; walks objects and arrays, not bytes or streams,
 * iteratively, so hostile nesting cannot overflow the stack here.
 */
export function findUnstorableText(value: unknown, root = ''): TextProblem | undefined {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: root, depth: 0 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!
    if (typeof v === 'string') {
      const problem = textProblem(v)
      if (problem) return { path, problem }
      continue
    }
    // JSON.parse('1e400') and a 10k-digit query value coerced by the validator are Infinity: no column holds it
    if (typeof v === 'number' && !Number.isFinite(v)) return { path, problem: 'not-finite' }
    if (v === null || typeof v !== 'object') continue
    const isArray = Array.isArray(v)
    // bytes and streams are not text (tus bodies); route params and parsed queries have their own prototypes
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || typeof (v as { pipe?: unknown }).pipe === 'function') continue
    if (depth >= MAX_NESTING) return { path, problem: 'too-deep' }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const childPath = `${path}/${isArray ? k : escapePointer(k)}`
      const keyProblem = isArray ? undefined : textProblem(k)
      if (keyProblem) return { path: childPath, problem: keyProblem }
      stack.push({ v: child, path: childPath, depth: depth + 1 })
    }
  }
  return undefined
}

/** The error for a TextProblem: INVALID_TEXT, or NESTING_TOO_DEEP. */
export function unstorableTextError(p: TextProblem): SlipwayError {
  if (p.problem === 'not-finite') return invalid('NUMBER_OUT_OF_RANGE', `${p.path || 'the input'} is not a finite number`, { path: p.path })
  if (p.problem === 'too-deep') return invalid('NESTING_TOO_DEEP', `${p.path || 'the input'} is nested deeper than ${MAX_NESTING} levels`, { path: p.path, maxNesting: MAX_NESTING })
  const what = p.problem === 'nul' ? 'a NUL character' : 'a lone UTF-16 surrogate (not valid Unicode)'
  // the offending text is not echoed back: it is exactly what clients and logs choke on
  return invalid('INVALID_TEXT', `${p.path || 'the input'} holds ${what}`, { path: p.path, problem: p.problem })
}

export function assertStorableText(value: unknown, root = ''): void {
  const p = findUnstorableText(value, root)
  if (p) throw unstorableTextError(p)
}

/** RFC 6901 */
const escapePointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1')

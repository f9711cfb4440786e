/**
 * SemVer 2.0.0 precedence (https://semver.org/#spec-item-11), the domain's own so that
 * the domain imports no npm package. Parsing follows the `semver` package's strict
 * parse (what `semver.valid` accepts): surrounding white space and one leading "v" are
 * allowed, at most 256 characters, numbers up to Number.MAX_SAFE_INTEGER; build
 * metadata is ignored for precedence. test/server/semver.test.ts compares it with the
 * `semver` package.
 */

export interface SemVer {
  major: number
  minor: number
  patch: number
  /** dot-separated pre-release identifiers; numeric ones as numbers */
  prerelease: Array<string | number>
}

const MAX_LENGTH = 256
const NUM = '0|[1-9]\\d*'
const PRE_ID = `(?:${NUM}|\\d*[a-zA-Z-][a-zA-Z0-9-]*)`
const FULL = new RegExp(`^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`)

/** The version, or undefined when it is not a SemVer 2.0.0 string. */
export function parseSemver(version: string): SemVer | undefined {
  if (version.length > MAX_LENGTH) return undefined
  const m = FULL.exec(version.trim())
  if (!m) return undefined
  const [major, minor, patch] = [m[1], m[2], m[3]].map(Number) as [number, number, number]
  if (![major, minor, patch].every((n) => n <= Number.MAX_SAFE_INTEGER)) return undefined
  const prerelease = m[4] === undefined ? [] : m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id))
  return { major, minor, patch, prerelease }
}

const compareIds = (a: string | number, b: string | number): number => {
  // §11.4: numeric identifiers compare numerically and have lower precedence than alphanumeric ones
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b)
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Negative, zero or positive as `a` has lower, equal or higher precedence than `b`. */
export function compareSemver(a: SemVer, b: SemVer): number {
  const core = Math.sign(a.major - b.major) || Math.sign(a.minor - b.minor) || Math.sign(a.patch - b.patch)
  if (core) return core
  // §11.3: a pre-release version has lower precedence than the normal version
  if (!a.prerelease.length || !b.prerelease.length) return Math.sign(b.prerelease.length - a.prerelease.length)
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]
    const y = b.prerelease[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    const c = compareIds(x, y)
    if (c) return c
  }
  return 0
}

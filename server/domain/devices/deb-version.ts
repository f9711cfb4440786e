/**
 * Debian version ordering (deb-version(7), the algorithm of dpkg's verrevcmp):
 * `[epoch:]upstream[-revision]`. Epochs compare as numbers; then upstream, then
 * revision, each by alternating runs: a non-digit run compared character by
 * character where `~` sorts before everything (even the end of the string), then
 * letters, then the other characters; and a digit run compared as a number.
 */

export interface DebVersion {
  epoch: number
  upstream: string
  revision: string
}

/** Splits a version; undefined when it is not one dpkg would accept (empty, bad epoch, bad characters). */
export function parseDebVersion(v: string): DebVersion | undefined {
  const s = v.trim()
  if (!s) return undefined
  let epoch = 0
  let rest = s
  const colon = s.indexOf(':')
  if (colon >= 0) {
    const e = s.slice(0, colon)
    if (!/^\d+$/.test(e) || e.length > 9) return undefined
    epoch = Number(e)
    rest = s.slice(colon + 1)
  }
  const dash = rest.lastIndexOf('-')
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest
  const revision = dash >= 0 ? rest.slice(dash + 1) : ''
  // dpkg only warns about an upstream that does not start with a digit; it still orders it
  if (!upstream) return undefined
  if (!/^[A-Za-z0-9.+~:-]+$/.test(upstream) || (colon < 0 && upstream.includes(':'))) return undefined
  if (dash >= 0 && !/^[A-Za-z0-9.+~]+$/.test(revision)) return undefined
  return { epoch, upstream, revision }
}

/** The weight of one character in a non-digit run (dpkg's `order()`); 0 stands for "end of run". */
function order(c: string | undefined): number {
  if (c === undefined || (c >= '0' && c <= '9')) return 0
  if (c === '~') return -1
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0)
  return c.charCodeAt(0) + 256
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9'

/** dpkg's verrevcmp over one part (upstream or revision). */
function comparePart(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    let firstDiff = 0
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i])
      const bc = order(b[j])
      if (ac !== bc) return ac - bc
      i++
      j++
    }
    while (a[i] === '0') i++
    while (b[j] === '0') j++
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (isDigit(a[i])) return 1
    if (isDigit(b[j])) return -1
    if (firstDiff) return firstDiff
  }
  return 0
}

/** < 0, 0 or > 0 as `a` sorts before, equal to or after `b`. Throws on a version that does not parse. */
export function compareDebVersions(a: string, b: string): number {
  const x = parseDebVersion(a)
  const y = parseDebVersion(b)
  if (!x || !y) throw new RangeError(`not a Debian version: ${!x ? a : b}`)
  if (x.epoch !== y.epoch) return x.epoch - y.epoch
  return Math.sign(comparePart(x.upstream, y.upstream)) || Math.sign(comparePart(x.revision, y.revision))
}

export type VersionTest = { op: 'lt' | 'gte' | 'eq'; version: string }

/** Does `installed` pass the test? A version that does not parse passes none (never a false "affected"). */
export function versionPasses(installed: string, t: VersionTest): boolean {
  if (!parseDebVersion(installed)) return false
  const c = compareDebVersions(installed, t.version)
  return t.op === 'lt' ? c < 0 : t.op === 'gte' ? c >= 0 : c === 0
}

/**
 * The domain's SemVer precedence (server/domain/releases/semver.ts) against the `semver`
 * package it replaced in the offer rule ("version X is not newer than the installed Y").
 */
import t from 'tap'
import semver from 'semver'
import { compareSemver, parseSemver } from '../../server/domain/releases/semver.js'
import { notOlder } from '../../server/domain/devices/selector.js'

const VERSIONS = [
  '0.0.0', '0.0.1', '0.1.0', '1.0.0', '1.0.1', '1.1.0', '1.10.0', '1.2.0', '2.0.0', '10.0.0',
  '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11',
  '1.0.0-rc.1', '1.0.0-0', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0-x-y-z.--', '1.0.0-1a', '1.0.0-a1',
  '1.0.0+build.1', '1.0.0-alpha+001', '1.0.0+20130313144700', 'v1.2.3', ' 1.2.3 ', 'v1.0.0-rc.1',
  '9007199254740991.0.0', '1.0.0-9007199254740991',
]
const INVALID = [
  '', '1', '1.2', '1.2.3.4', '01.2.3', '1.02.3', '1.2.03', '1.2.3-01', '1.2.3-', '1.2.3+', '1.2.3-a..b',
  'vv1.2.3', '=1.2.3', 'v 1.2.3', '1.2.3 beta', 'x.y.z', '9007199254740992.0.0', `1.2.3-${'a'.repeat(260)}`, '1.2.3-a_b',
]

t.test('parses what semver.valid accepts, and nothing else', async (t) => {
  for (const v of [...VERSIONS, ...INVALID]) t.equal(parseSemver(v) !== undefined, semver.valid(v) !== null, JSON.stringify(v))
})

t.test('orders every pair as semver.compare does', async (t) => {
  let pairs = 0
  for (const a of VERSIONS)
    for (const b of VERSIONS) {
      pairs++
      const ours = compareSemver(parseSemver(a)!, parseSemver(b)!)
      if (Math.sign(ours) !== semver.compare(a, b)) t.fail(`${a} vs ${b}: ${ours}, semver says ${semver.compare(a, b)}`)
    }
  t.equal(pairs, VERSIONS.length ** 2, `${pairs} pairs agree`)
})

t.test('the offer rule refuses a version that is not newer, and compares nothing it cannot parse', async (t) => {
  const installed = (version: string) => ({ name: 'rootfs', version, sha256: 'a'.repeat(64), securityVersion: 1 })
  const rel = (version: string) => ({ version, sha256: 'b'.repeat(64), securityVersion: 1 })
  t.equal(notOlder(rel('1.0.0'), installed('1.0.0-rc.1')), undefined, 'a release is newer than its release candidate')
  t.match(notOlder(rel('1.0.0-rc.1'), installed('1.0.0')), /not newer than the installed 1\.0\.0/)
  t.match(notOlder(rel('1.2.0'), installed('v1.10.0')), /not newer/, 'numeric, not lexical, and a leading v as semver allows')
  t.equal(notOlder(rel('1.2.0'), installed('build-42')), undefined, 'an installed version that is not SemVer is not compared')
})

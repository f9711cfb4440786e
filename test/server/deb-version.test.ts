/**
 * Debian version ordering (deb-version(7)): a table of known orderings, each also
 * checked against `dpkg --compare-versions` (dpkg is on this machine and on CI's: the
 * test fails loudly without it), plus a sweep of generated pairs against dpkg.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import t from 'tap'
import { compareDebVersions, parseDebVersion, versionPasses } from '../../server/domain/devices/deb-version.js'

const dpkgLess = (a: string, b: string): boolean => spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0
const dpkgEq = (a: string, b: string): boolean => spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0)
const dpkgSign = (a: string, b: string) => (dpkgLess(a, b) ? -1 : dpkgEq(a, b) ? 0 : 1)

// [a, b, expected sign of compare(a, b)]
const TABLE: Array<[string, string, number]> = [
  ['1.0', '1.0', 0],
  ['1.0', '1.1', -1],
  ['1.10', '1.9', 1],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~~', '1.0~', -1],
  ['1.0~', '1.0', -1],
  ['1.0', '1.0+b1', -1],
  ['1.0', '1.0a', -1],
  ['1.0a', '1.0+', -1],
  ['1.0.1', '1.0a', 1],
  ['1:0.9', '2.0', 1],
  ['0:1.0', '1.0', 0],
  ['1.0-1', '1.0-2', -1],
  ['1.0-10', '1.0-9', 1],
  ['1.0-1', '1.0', 1],
  ['1.0-0', '1.0', 0],
  ['3.0.15-1~deb12u1', '3.0.15', 1],
  ['3.0.14-1~deb12u2', '3.0.15', -1],
  ['3.0.15-1~deb12u1', '3.0.15-1', -1],
  ['3.0.11-1~deb12u2', '3.0.11-1~deb12u10', -1],
  ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
  ['1.2.3-4ubuntu1', '1.2.3-4', 1],
  ['001.0', '1.0', 0],
  ['1.00', '1.0', 0],
  ['1.0-1.1', '1.0-1', 1],
  ['1:1.0-1', '1:1.0-1', 0],
  ['2:1.0', '1:9.9', 1],
  ['1.0.0', '1.0', 1],
  ['1.0+dfsg', '1.0', 1],
  ['1.0~beta.1', '1.0~beta1', 1],
  ['7.88.1-10+deb12u8', '7.88.1-10+deb12u12', -1],
  ['6.1.0-27-arm64', '6.1.0-28-arm64', -1],
  ['a', 'b', -1],
]

t.test('dpkg is here to compare against', async (t) => {
  const v = execFileSync('dpkg', ['--version'], { encoding: 'utf8' })
  t.match(v, /dpkg/, 'dpkg --version answers')
})

t.test('the table, and dpkg agrees with it', async (t) => {
  for (const [a, b, want] of TABLE) {
    t.equal(sign(compareDebVersions(a, b)), want, `${a} vs ${b}`)
    t.equal(sign(compareDebVersions(b, a)), -want, `${b} vs ${a} (antisymmetric)`)
    t.equal(dpkgSign(a, b), want, `dpkg: ${a} vs ${b}`)
  }
})

t.test('generated pairs agree with dpkg', async (t) => {
  // a seeded generator over the characters that matter: digits, letters, ~ + . and the separators
  let seed = 12345
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
  const parts = ['0', '1', '2', '9', '10', '01', 'a', 'b', 'Z', '~', '~~', '+', '.', 'rc', '~rc', '+b', '.0']
  const gen = () => {
    let up = String(rnd(12))
    for (let k = rnd(4); k > 0; k--) up += parts[rnd(parts.length)]
    const epoch = rnd(5) === 0 ? `${rnd(3)}:` : ''
    const rev = rnd(2) === 0 ? `-${rnd(12)}${rnd(3) === 0 ? parts[rnd(parts.length)]!.replace('.', '') : ''}` : ''
    return epoch + up + rev
  }
  let agreed = 0
  for (let k = 0; k < 150; k++) {
    const a = gen()
    const b = gen()
    if (!parseDebVersion(a) || !parseDebVersion(b)) continue
    const mine = sign(compareDebVersions(a, b))
    const theirs = dpkgSign(a, b)
    if (mine !== theirs) t.fail(`${a} vs ${b}: mine ${mine}, dpkg ${theirs}`)
    else agreed++
  }
  t.ok(agreed >= 100, `${agreed} generated pairs agree with dpkg`)
})

t.test('parse and the package tests', async (t) => {
  t.same(parseDebVersion('1:2.3-4'), { epoch: 1, upstream: '2.3', revision: '4' })
  t.same(parseDebVersion('2.3-4-5'), { epoch: 0, upstream: '2.3-4', revision: '5' })
  t.equal(parseDebVersion(''), undefined, 'empty')
  t.equal(parseDebVersion('x:1.0'), undefined, 'epoch not a number')
  t.equal(parseDebVersion('1.0 2'), undefined, 'a space')
  t.equal(parseDebVersion('1.0-'), undefined, 'an empty revision')
  t.throws(() => compareDebVersions('1.0', 'x:1'), RangeError, 'a version that does not parse is refused, not ordered')
  t.ok(versionPasses('3.0.14-1~deb12u2', { op: 'lt', version: '3.0.15' }))
  t.notOk(versionPasses('3.0.15-1~deb12u1', { op: 'lt', version: '3.0.15' }))
  t.ok(versionPasses('3.0.15-1~deb12u1', { op: 'gte', version: '3.0.15' }))
  t.ok(versionPasses('0:3.0.15', { op: 'eq', version: '3.0.15' }))
  t.notOk(versionPasses('not a version!', { op: 'lt', version: '3.0.15' }), 'an unparseable installed version matches no test')
})

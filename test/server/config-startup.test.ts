/**
 * Configuration mistakes that used to pass in silence: a misspelled SLIPWAY_* variable,
 * a REDIS_URL nothing answers on, and the bootstrap admin token printed into the journal.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { unknownVariables } from '../../server/config-unknown.js'
import { slipway, waitForOutput } from '../helpers/cli.js'
import { freePort } from '../helpers/net.js'

t.test('unknownVariables names what nothing reads, with the variable it most likely meant', async (t) => {
  t.same(
    unknownVariables({ SLIPWAY_POLL_INTERVAL: '10', SLIPWAY_DATA_DIR: '/tmp/x', SLIPWAY_DELTA_OFER_RATIO: '0.5', SLIPWAY_WHATEVER_ELSE_ENTIRELY: '1' }),
    [
      { name: 'SLIPWAY_DELTA_OFER_RATIO', suggestion: 'SLIPWAY_DELTA_OFFER_RATIO' },
      { name: 'SLIPWAY_POLL_INTERVAL', suggestion: 'SLIPWAY_POLL_INTERVAL_SECONDS' },
      { name: 'SLIPWAY_WHATEVER_ELSE_ENTIRELY' },
    ],
  )
  t.same(unknownVariables({ SLIPWAY_URL: 'http://x', SLIPWAY_TOKEN: 't', SLIPWAY_RELEASE_KEY: 'k', SLIPWAY_TEST_REDIS_URL: 'r', HOME: '/root' }), [], 'CLI and test variables are known')
  t.same(unknownVariables({ SLIPWAY_POLL_INTERVAL: '' }), [], 'an empty variable is as good as unset')
})

t.test('the SLIPWAY_CONFIG file is checked too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'c.json'), JSON.stringify({ SLIPWAY_ROLLOUT_TICK: 3 }))
  t.same(unknownVariables({ SLIPWAY_CONFIG: join(dir, 'c.json') }), [{ name: 'SLIPWAY_ROLLOUT_TICK', suggestion: 'SLIPWAY_ROLLOUT_TICK_SECONDS' }])
})

t.test('start warns about a misspelled variable and writes the bootstrap token to a 0600 file, not stdout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-start-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const data = join(dir, 'data')
  const server = slipway(['start'], { SLIPWAY_DATA_DIR: data, PORT: String(port), LOG_LEVEL: 'warn', SLIPWAY_POLL_INTERVAL: '10' })
  t.teardown(() => server.child.kill('SIGKILL'))
  const out = await waitForOutput(server.child, (s) => s.includes('bootstrap-admin-token') && s.includes('SLIPWAY_POLL_INTERVAL'), 60_000)
  t.match(out, /warning: unknown variable SLIPWAY_POLL_INTERVAL is ignored: did you mean SLIPWAY_POLL_INTERVAL_SECONDS\?/)
  const file = join(data, 'bootstrap-admin-token')
  const token = (await readFile(file, 'utf8')).trim()
  t.match(token, /^slw_[A-Za-z0-9_-]{43}$/, 'the file holds the token')
  t.equal((await stat(file)).mode & 0o777, 0o600, 'readable by the server user only')
  t.notOk(out.includes(token), 'the token itself is never printed')
  const res = await fetch(`http://127.0.0.1:${port}/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200, 'and it is the admin token')
})

t.test('a REDIS_URL nothing answers on stops the start with REDIS_UNREACHABLE, naming the URL', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-redis-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const dead = await freePort()
  for (const command of ['start', 'worker']) {
    const r = await slipway([command], { SLIPWAY_DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'warn', REDIS_URL: `redis://:secret@127.0.0.1:${dead}` }).done
    t.equal(r.code, 1, `${command} exits 1`)
    t.match(r.stderr, new RegExp(`error: REDIS_UNREACHABLE: Redis at redis://\\*\\*\\*@127\\.0\\.0\\.1:${dead} \\(REDIS_URL\\) is unreachable`), `${command} says why`)
    t.notOk(r.stderr.includes('secret'), 'the password is not printed')
  }
})

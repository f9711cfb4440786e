import t from 'tap'
import { jittered, nextDelaySeconds } from '../../../client-sdk/src/agent/schedule.js'

const c = { pollIntervalSeconds: 300, jitter: 0.1, backoffInitialSeconds: 5, backoffMaxSeconds: 3600 }

t.test('the server interval wins over the config, ± jitter', async (t) => {
  t.equal(nextDelaySeconds(c, 0, 60, () => 0.5), 60)
  t.equal(nextDelaySeconds(c, 0, undefined, () => 0.5), 300)
  t.equal(nextDelaySeconds(c, 0, 60, () => 0), 54)
  t.equal(nextDelaySeconds(c, 0, 60, () => 1), 66)
  for (let i = 0; i < 100; i++) {
    const d = jittered(100, 0.1)
    t.ok(d >= 90 && d <= 110)
  }
})

t.test('errors back off exponentially up to the cap, jittered', async (t) => {
  const mid = () => 0.5
  t.same([1, 2, 3, 4, 12, 30].map((n) => nextDelaySeconds(c, n, 60, mid)), [5, 10, 20, 40, 3600, 3600])
})

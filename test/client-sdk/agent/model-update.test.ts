/** Model payloads: no reboot; store slot, atomic symlink swap, smoke test within its budget, rollback to the previous model. */
import { readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'

t.test('a model installs without a reboot; a smoke test over its budget puts the previous model back', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(1000, 1)
  let budget = 10_000
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  const modelsDir = join(dev.dir, 'models')
  const config = (smokeMs: number) => ({
    ...dev.config,
    models: { dir: modelsDir, smoke: { argv: ['sh', '-c', `test -s "$SLIPWAY_MODEL_PATH" && sleep ${smokeMs / 1000}`], latencyBudgetMs: budget } },
  })
  Object.assign(dev.config, config(0))
  await dev.powerCycle() // picks up the models config
  const m1 = Buffer.from('GGUF model one '.repeat(5000))
  await offer(api, { image: m1, release: releaseOf(m1, { name: 'llm', version: '1', kind: 'model' }), counter: 1 })
  t.match(await dev.agent.tick(), { outcome: 'committed' }, 'no reboot for a model')
  t.ok((await readFile(join(modelsDir, 'llm', 'current', 'model.gguf'))).equals(m1))
  t.match(await dev.slotState(), { active: 'a', booted: 'a' }, 'the OS slots are not involved')

  const m2 = Buffer.from('GGUF model two '.repeat(6000))
  budget = 100
  Object.assign(dev.config, config(500))
  await dev.powerCycle()
  await offer(api, { image: m2, release: releaseOf(m2, { name: 'llm', version: '2', kind: 'model' }), counter: 2 })
  t.match(await dev.agent.tick(), { outcome: 'rolled-back' })
  t.ok((await readFile(join(modelsDir, 'llm', 'current', 'model.gguf'))).equals(m1), 'model one is live again')
  t.equal(await readlink(join(modelsDir, 'llm', 'current')), 'a')
  const last = api.events.at(-1)
  t.match(last, { state: 'rolled-back', release: { name: 'llm', version: '2' }, reason: { code: 'HEALTH_CHECK_FAILED', message: /over-budget/ } })
  t.match(api.health.at(-1), { checks: [{ name: 'smoke', ok: false }] })
  t.ok(api.health.at(-1).metrics.smoke_latency_ms >= 400)
  const st = await dev.agent.status()
  t.match(st.journal.models, { llm: { version: '1' } })
})

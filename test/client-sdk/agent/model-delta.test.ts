/**
 * Model deltas on the device (issue 12 §1): the patch is downloaded instead of
 * the model, the streaming applier rebuilds the new model from the live one
 * straight into the inactive model slot, then the smoke test runs and the
 * symlink swaps. A live model that is not the delta's source is refused with
 * DELTA_SOURCE_MISMATCH and nothing is swapped. A model put on the device at
 * provisioning counts as live, so the first update can already be a delta.
 */
import { mkdtemp, open, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ModelStore } from '../../../client-sdk/src/models/index.js'
import { sampleDelta } from '../delta-fixtures.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'
import { sha256 } from './http-fixtures.js'

async function provisioned(t: Test, model: Buffer) {
  const modelsDir = await mkdtemp(join(tmpdir(), 'agent-models-'))
  t.teardown(() => rm(modelsDir, { recursive: true, force: true }))
  const store = new ModelStore({ dir: join(modelsDir, 'llm') })
  await store.install('a', (async function* () {
    yield model
  })(), { sha256: sha256(model), name: 'llm', version: '1' })
  await store.activate('a')
  const api = await fakeApi(t, await trustKit())
  const os = Buffer.alloc(1000, 1)
  const dev = await simDevice(t, api, {
    imageA: os,
    installed: releaseOf(os, { version: '1.0.0' }),
    config: { models: { dir: modelsDir, smoke: { argv: ['sh', '-c', 'test -s "$SLIPWAY_MODEL_PATH"'] } } },
  })
  return { api, dev, modelsDir, store }
}

t.test('a model delta: patch only, applied from the live model into the other slot, smoke-tested, swapped', async (t) => {
  const { source, target, patch } = await sampleDelta()
  const { api, dev, modelsDir } = await provisioned(t, source)
  t.match((await dev.agent.status()).journal.models, { llm: { version: '1', sha256: sha256(source), securityVersion: 0 } }, 'the provisioned model counts as live')
  const rel = releaseOf(target, { name: 'llm', version: '2', kind: 'model' })
  await offer(api, { image: target, release: rel, patch: { bytes: patch, sourceSha256: sha256(source) } })
  t.match(await dev.agent.tick(), { outcome: 'committed' })
  t.ok((await readFile(join(modelsDir, 'llm', 'current', 'model.gguf'))).equals(target), 'the new model is live')
  t.equal(await readlink(join(modelsDir, 'llm', 'current')), 'b')
  t.equal(await readlink(join(modelsDir, 'llm', 'previous')), 'a', 'the old one is kept for rollback')
  t.notOk(api.log.some((r) => r.path === `/v1/blobs/${rel.sha256}`), 'the full model was never downloaded')
  t.ok(api.log.some((r) => r.path === `/v1/blobs/${sha256(patch)}`), 'the patch was')
  t.same(
    api.events.map((e) => [e.state, e.mode]),
    [
      ['downloading', 'delta'],
      ['installing', 'delta'],
      ['health-checking', 'delta'],
      ['succeeded', 'delta'],
    ],
  )
  t.match((await dev.agent.status()).journal, { models: { llm: { version: '2', sha256: rel.sha256 } }, update: { step: 'committed', mode: 'delta' } })
})

t.test('a model delta for the wrong source model: DELTA_SOURCE_MISMATCH, nothing swapped', async (t) => {
  const { source, target, patch } = await sampleDelta()
  const { api, dev, modelsDir } = await provisioned(t, source)
  // the live file drifted from what the journal says it is (the offer still checks out against
  // the journal), in bytes the patch copies: the image hash fails and the source is named
  // (a drift in bytes no op reads would not matter: the image is checked, not the source)
  const fh = await open(join(modelsDir, 'llm', 'a', 'model.gguf'), 'r+')
  await fh.write(Buffer.from([0x5a]), 0, 1, 1500)
  await fh.close()
  await offer(api, { image: target, release: releaseOf(target, { name: 'llm', version: '2', kind: 'model' }), patch: { bytes: patch, sourceSha256: sha256(source) } })
  t.match(await dev.agent.tick(), { outcome: 'failed' })
  t.equal(await readlink(join(modelsDir, 'llm', 'current')), 'a', 'current still points at the live model')
  t.match(api.events.at(-1), { state: 'failed', mode: 'delta', reason: { code: 'DELTA_SOURCE_MISMATCH' } })
  t.match((await dev.agent.status()).journal.models, { llm: { version: '1' } })
  t.equal(await new ModelStore({ dir: join(modelsDir, 'llm') }).manifest('b'), undefined, 'slot b holds no complete model')
})

/**
 * Model half of `npm run bench:agent` (issue 12 §1): the real agent bundle
 * updates a live GGUF-like model (gen_model.py: model-v1 → model-v2-2layers,
 * two of 32 layers re-generated and the header grown) once by downloading the
 * whole model and once through a delta applied from the live model into the
 * other model slot. Printed side by side with the full download as the
 * baseline of the same run: bytes downloaded, wall time, peak RSS.
 * Data: the ~190 MB model pair (reused when present) and one patch.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import { ModelStore } from '../../client-sdk/src/models/index.js'
import { fakeApi, trustKit, type FakeApi } from '../client-sdk/agent/device-fixtures.js'
import { benchDevice, DELTA_FORMAT, fileBlobs, MiB, offerBenchUpdate, served, sha256, timed } from './agent-harness.js'

/** the model updated to: BENCH_MODEL, a gen_model.py file (default model-v2-2layers; model-v3-all-layers re-generates every layer) */
const NEW_MODEL = process.env.BENCH_MODEL ?? 'model-v2-2layers'

interface Options {
  dir: string
  shared: string
  bundle: string
  idleRssMb: number
}

async function modelDevice(api: FakeApi, work: string, mode: 'full' | 'delta', v1: string, v1Sha: string): Promise<{ config: string; journal: string; current: string }> {
  const d = join(work, `device-${mode}`)
  const models = join(d, 'models')
  const os = Buffer.alloc(4096, 1)
  const { config, data } = await benchDevice(api, d, {
    writeSlotA: async (path) => writeFileSync(path, os),
    osSha256: createHash('sha256').update(os).digest('hex'),
    config: { models: { dir: models }, ...(mode === 'full' ? { download: { deltas: false } } : {}) },
  })
  // the live model, provisioned as a factory would: store slot a, `current` → a
  const store = new ModelStore({ dir: join(models, 'llm') })
  await store.install('a', v1, { sha256: v1Sha, name: 'llm', version: '1.0.0' })
  await store.activate('a')
  return { config, journal: join(data, 'journal.json'), current: store.currentPath() }
}

export async function benchModels(modes: Array<'full' | 'delta'>, o: Options): Promise<void> {
  const src = join(o.dir, 'model')
  if (!existsSync(join(src, `${NEW_MODEL}.gguf`))) spawnSync('python3', [join(o.shared, 'gen_model.py'), src], { stdio: 'inherit' })
  const v1 = join(src, 'model-v1.gguf')
  const v2 = join(src, `${NEW_MODEL}.gguf`)
  const work = join(o.dir, 'agent-model')
  mkdirSync(work, { recursive: true })
  const patch = join(work, NEW_MODEL === 'model-v2-2layers' ? `model-v${DELTA_FORMAT}.patch` : `${NEW_MODEL}-v${DELTA_FORMAT}.patch`)
  if (!existsSync(patch)) {
    console.log('building the model delta (server builder)…')
    const { makeDelta } = await import('../../server/delta/index.js')
    await makeDelta(v1, v2, `${patch}.tmp`, { formatVersion: DELTA_FORMAT, memberCodecs: ['puff'] })
    spawnSync('mv', [`${patch}.tmp`, patch])
  }
  const [v1Sha, v2Sha, patchSha] = await Promise.all([sha256(v1), sha256(v2), sha256(patch)])
  const size = statSync(v2).size
  const patchLength = statSync(patch).size
  const teardowns: Array<() => unknown> = []
  const api = await fakeApi({ teardown: (f: () => unknown) => teardowns.push(f) } as unknown as Test, await trustKit())
  api.blobRoute = fileBlobs(new Map([[v2Sha, v2], [patchSha, patch]]))
  await offerBenchUpdate(api, { name: 'llm', version: '2.0.0', kind: 'model', securityVersion: 0 }, { sha256: v2Sha, length: size, sourceSha256: v1Sha, patchSha256: patchSha, patchLength })
  console.log(`\nmodel ${(size / MiB).toFixed(0)} MiB (model-v1 → ${NEW_MODEL}), patch ${(patchLength / MiB).toFixed(1)} MiB`)
  const results = new Map<string, { mib: number; s: number; rssMb: number }>()
  const rows: string[] = []
  for (const mode of modes) {
    const dev = await modelDevice(api, work, mode, v1, v1Sha)
    served.clear()
    spawnSync('sync')
    const agent = await timed([process.execPath, o.bundle, 'run', '--once', '--config', dev.config])
    const outcome = (JSON.parse(agent.out.trim().split('\n').at(-1)!) as { outcome: string }).outcome
    const j = JSON.parse(await readFile(dev.journal, 'utf8'))
    const ok = outcome === 'committed' && j.update.mode === mode && (await sha256(dev.current)) === v2Sha
    const mib = [...served.values()].reduce((a, b) => a + b, 0) / MiB
    results.set(mode, { mib, s: agent.s, rssMb: agent.rssMb })
    rows.push(
      [
        `model-${mode}`.padEnd(11),
        `${mib.toFixed(1)} MiB`.padStart(11),
        `${agent.s.toFixed(1)} s`.padStart(8),
        `${agent.rssMb.toFixed(0)} MB`.padStart(8),
        `${(agent.rssMb - o.idleRssMb).toFixed(0)} MB`.padStart(10),
        ok ? 'live model verified' : `WRONG RESULT (${outcome}, ${j.update?.mode})`,
      ].join('  '),
    )
    rmSync(join(work, `device-${mode}`), { recursive: true, force: true })
  }
  console.log(`\n${['mode'.padEnd(11), 'downloaded'.padStart(11), 'agent'.padStart(8), 'peak RSS'.padStart(8), 'above idle'.padStart(10), 'check'].join('  ')}`)
  for (const r of rows) console.log(r)
  const f = results.get('full')
  const d = results.get('delta')
  if (f && d)
    console.log(
      `delta / full: downloaded ${(d.mib / f.mib).toFixed(3)}×, time ${(d.s / f.s).toFixed(2)}×, peak RSS ${(d.rssMb / f.rssMb).toFixed(2)}× (above idle ${((d.rssMb - o.idleRssMb) / Math.max(1, f.rssMb - o.idleRssMb)).toFixed(2)}×)`,
    )
  for (const t of teardowns) await t()
}

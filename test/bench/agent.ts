/**
 * Agent benchmark (issue 6): a full install and a delta install of a ≥ 700 MB
 * image into a file slot by the real agent (the single-file bundle, one
 * `run --once` process: poll, verify, download/apply, hash, write, fsync
 * checkpoints, mark to try), against a loopback device API serving really
 * signed documents and the bytes from disk. Printed side by side: wall time
 * as a ratio to `cp` of the same image (plus an fsync of the copy, as the agent
 * syncs), and the agent's peak RSS above a bare `node` process's.
 *   BENCH_DIR     data and scratch (default /tmp/slipway-bench); the image pair is
 *                 os-old.ext4 ‖ model-v1.gguf → os-new.ext4 ‖ model-v2-2layers.gguf
 *                 (a root image with a bundled model) from the delta benchmark's generators
 *   BENCH_SHARED  where gen_model.py / os-pair.sh live (default /work/shared/bench)
 *   BENCH_DELTA_FORMAT  the patches' delta format, 1, 2 or 3 (default 3: what today's agent reports)
 *   BENCH_MODES   comma-separated: full, delta, model-full, model-delta (default all);
 *                 the model modes update a ~190 MB GGUF-like model (model-v1 → model-v2-2layers,
 *                 agent-model.ts) and print bytes downloaded, time and peak RSS side by side
 *   BENCH_MODEL   the model the model modes update to (default model-v2-2layers;
 *                 model-v3-all-layers: every layer new, what the decode worker is for)
 * Run: npm run bench:agent. Files are in the page cache (23 GB RAM here): this
 * measures the agent's own overhead, not the disk.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { fakeApi, trustKit, type FakeApi } from '../client-sdk/agent/device-fixtures.js'
import { benchDevice, concat, DELTA_FORMAT, fileBlobs, MiB, offerBenchUpdate, sha256, timed } from './agent-harness.js'
import { benchModels } from './agent-model.js'
const dir = process.env.BENCH_DIR ?? '/tmp/slipway-bench'
const shared = process.env.BENCH_SHARED ?? '/work/shared/bench'
const work = join(dir, 'agent')

async function prepare(): Promise<{ old: string; nw: string; patch: string }> {
  mkdirSync(work, { recursive: true })
  const m = join(dir, 'model')
  const os = join(dir, 'os')
  if (!existsSync(join(m, 'model-v2-2layers.gguf'))) spawnSync('python3', [join(shared, 'gen_model.py'), m], { stdio: 'inherit' })
  if (!existsSync(join(os, 'os-new.ext4'))) spawnSync('bash', [join(shared, 'os-pair.sh'), os], { stdio: 'inherit' })
  const old = join(work, 'image-old.img')
  const nw = join(work, 'image-new.img')
  if (!existsSync(old)) await concat(old, [join(os, 'os-old.ext4'), join(m, 'model-v1.gguf')])
  if (!existsSync(nw)) await concat(nw, [join(os, 'os-new.ext4'), join(m, 'model-v2-2layers.gguf')])
  const patch = join(work, `image-v${DELTA_FORMAT}.patch`)
  if (!existsSync(patch)) {
    console.log('building the delta (server builder)…')
    const { makeDelta } = await import('../../server/delta/index.js')
    const r = await makeDelta(old, nw, `${patch}.tmp`, { formatVersion: DELTA_FORMAT, memberCodecs: ['puff'] })
    rmSync(patch, { force: true })
    spawnSync('mv', [`${patch}.tmp`, patch])
    console.log(`delta: ${(r.size / MiB).toFixed(1)} MiB`)
  }
  return { old, nw, patch }
}

async function device(api: FakeApi, name: string, old: string): Promise<{ config: string; slotB: string; journal: string }> {
  const { config, slots, data } = await benchDevice(api, join(work, `device-${name}`), {
    writeSlotA: (path) => copyFile(old, path),
    osSha256: await sha256(old),
    config: name === 'full' ? { download: { deltas: false } } : {},
  })
  return { config, slotB: join(slots, 'slot-b.img'), journal: join(data, 'journal.json') }
}

function buildAgent(): string {
  mkdirSync(work, { recursive: true })
  const bundle = join(work, 'slipway-agent.cjs')
  const b = spawnSync(process.execPath, [fileURLToPath(new URL('../../client-sdk/scripts/build-agent.mjs', import.meta.url))], {
    env: { ...process.env, SLIPWAY_AGENT_OUTFILE: bundle },
    encoding: 'utf8',
  })
  if (b.status !== 0) throw new Error(b.stderr)
  console.log(b.stdout.trim())
  return bundle
}

async function main() {
  const modes = process.env.BENCH_MODES?.split(',') ?? ['full', 'delta', 'model-full', 'model-delta']
  const bundle = buildAgent()
  const idle = await timed([process.execPath, '-e', '0'])
  const imageModes = modes.filter((m): m is 'full' | 'delta' => m === 'full' || m === 'delta')
  if (imageModes.length) await benchImages(imageModes, bundle, idle.rssMb)
  const modelModes = modes.filter((m): m is 'full' | 'delta' => m === 'model-full' || m === 'model-delta').map((m) => m.slice('model-'.length) as 'full' | 'delta')
  if (modelModes.length) await benchModels(modelModes, { dir, shared, bundle, idleRssMb: idle.rssMb })
}

async function benchImages(modes: Array<'full' | 'delta'>, bundle: string, idleRssMb: number) {
  const { old, nw, patch } = await prepare()
  const size = statSync(nw).size
  const [oldSha, newSha, patchSha] = await Promise.all([sha256(old), sha256(nw), sha256(patch)])
  const patchLength = statSync(patch).size
  const teardowns: Array<() => unknown> = []
  const api = await fakeApi({ teardown: (f: () => unknown) => teardowns.push(f) } as unknown as Test, await trustKit())
  api.blobRoute = fileBlobs(new Map([[newSha, nw], [patchSha, patch]]))
  await offerBenchUpdate(api, { name: 'rootfs', version: '1.1.0', securityVersion: 1 }, { sha256: newSha, length: size, sourceSha256: oldSha, patchSha256: patchSha, patchLength })
  const rows: string[] = []
  console.log(`image ${(size / MiB).toFixed(0)} MiB, patch ${(patchLength / MiB).toFixed(1)} MiB; bare node idle ${idleRssMb.toFixed(0)} MB RSS`)
  for (const mode of modes) {
    const dev = await device(api, mode, old)
    const cpDest = join(work, 'cp-dest.img')
    rmSync(cpDest, { force: true })
    spawnSync('sync') // the slot-a copy just made: written back before anything is timed
    const cp = await timed(['sh', '-c', `cp --reflink=never "${nw}" "${cpDest}" && sync "${cpDest}"`])
    rmSync(cpDest, { force: true })
    spawnSync('sync')
    const agent = await timed([process.execPath, bundle, 'run', '--once', '--config', dev.config])
    const result = JSON.parse(agent.out) as { outcome: string }
    const j = JSON.parse(await readFile(dev.journal, 'utf8'))
    const ok = result.outcome === 'reboot-issued' && j.update.mode === mode && (await sha256(dev.slotB)) === newSha
    rows.push(
      [
        mode.padEnd(6),
        `${agent.s.toFixed(1)} s`.padStart(8),
        `${cp.s.toFixed(1)} s`.padStart(8),
        `${(agent.s / cp.s).toFixed(1)}×`.padStart(6),
        `${agent.rssMb.toFixed(0)} MB`.padStart(8),
        `${(agent.rssMb - idleRssMb).toFixed(0)} MB`.padStart(10),
        ok ? 'slot b verified' : `WRONG RESULT (${result.outcome}, ${j.update.mode})`,
      ].join('  '),
    )
    rmSync(join(work, `device-${mode}`), { recursive: true, force: true })
  }
  console.log(`\n${['mode'.padEnd(6), 'agent'.padStart(8), 'cp+sync'.padStart(8), 'ratio'.padStart(6), 'peak RSS'.padStart(8), 'above idle'.padStart(10), 'check'].join('  ')}`)
  for (const r of rows) console.log(r)
  console.log(`(goal: peak RSS < 64 MB above idle; wall time includes process start, metadata verification, download over loopback HTTP, hashing and fsyncs)`)
  for (const f of teardowns) await f()
}

await main()

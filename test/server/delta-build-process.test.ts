/**
 * makeDeltaIsolated: the builder in a process of its own, as the server's build-delta job
 * and `slipway delta make` run it. The same patch as in-process, progress and errors
 * across the process boundary, the allocator setting the process starts with (read from
 * its /proc environ while it builds), and a build process that dies is an error, not a hang.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { applyDelta } from '../../client-sdk/src/delta/index.js'
import { DeltaBuildError, makeDelta, makeDeltaIsolated } from '../../server/delta/index.js'
import { randomBytes } from '../client-sdk/delta-fixtures.js'

const MiB = 1 << 20

async function pair(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-build-proc-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const source = randomBytes(2 * MiB, 7)
  const target = Buffer.concat([source.subarray(0, MiB), randomBytes(256 * 1024, 8), source.subarray(MiB + 4096)])
  target[MiB + 300_000] = target[MiB + 300_000]! ^ 0x55
  await writeFile(join(dir, 'old'), source)
  await writeFile(join(dir, 'new'), target)
  return { dir, target, p: (name: string) => join(dir, name) }
}

/** The running build process of this test process (pgrep: one child running build-process-boot). */
async function buildChild(t: Test): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const out = (() => {
      try {
        return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'build-process-boot'], { encoding: 'utf8' })
      } catch {
        return '' // pgrep exits 1 while there is none yet
      }
    })()
    const pids = out.trim().split('\n').filter(Boolean)
    if (pids.length > 0) {
      t.equal(pids.length, 1, 'one build process')
      return Number(pids[0])
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('no build process appeared')
}

const environ = async (pid: number) => Object.fromEntries((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))

t.test('the isolated build writes the same patch as the in-process one, reports progress, and the patch applies', async (t) => {
  const { target, p } = await pair(t)
  const seen: Array<[number, number]> = []
  const before = process.env.MALLOC_MMAP_THRESHOLD_
  t.teardown(() => (before === undefined ? delete process.env.MALLOC_MMAP_THRESHOLD_ : (process.env.MALLOC_MMAP_THRESHOLD_ = before)))
  delete process.env.MALLOC_MMAP_THRESHOLD_
  const building = makeDeltaIsolated(p('old'), p('new'), p('patch'), { formatVersion: 3, onProgress: (done, total) => seen.push([done, total]) })
  t.equal((await environ(await buildChild(t))).MALLOC_MMAP_THRESHOLD_, '1048576', "the build process starts with glibc's mmap threshold pinned at 1 MiB")
  const r = await building
  const here = await makeDelta(p('old'), p('new'), p('patch-here'), { formatVersion: 3 })
  t.ok((await readFile(p('patch'))).equals(await readFile(p('patch-here'))), 'byte for byte the same patch')
  t.match(r, { size: here.size, ops: here.ops, sourceSha256: here.sourceSha256, targetSha256: here.targetSha256, formatVersion: here.formatVersion, stats: here.stats })
  t.ok(seen.length > 0, `progress crossed the process boundary (${seen.length} reports)`)
  t.same(seen.at(-1), [target.length, target.length], 'the last report is the whole target')
  t.ok(r.peakRss > 20 * MiB && r.peakRss < 1024 * MiB, `peakRss is the build process's own (${(r.peakRss / MiB).toFixed(0)} MiB)`)
  await applyDelta(p('old'), p('patch'), p('out'), { expectedTargetSha256: r.targetSha256 })
  t.ok((await readFile(p('out'))).equals(target), 'the applier rebuilds the target')
})

t.test('builder errors keep their class and code across the process boundary; others are plain errors', async (t) => {
  const { p } = await pair(t)
  const missing = await makeDeltaIsolated(p('nope'), p('new'), p('patch')).catch((e: unknown) => e)
  t.type(missing, DeltaBuildError)
  t.match(missing, { code: 'DELTA_BUILD_INPUT', message: /nope|source/ })
  const unwritable = await makeDeltaIsolated(p('old'), p('new'), join(p('no-such-dir'), 'patch')).catch((e: unknown) => e)
  t.type(unwritable, Error)
  t.notOk(unwritable instanceof DeltaBuildError, 'not a builder error')
  t.match(unwritable, { message: /ENOENT/ })
})

t.test('a build process that dies is an error naming how it ended', async (t) => {
  const { p } = await pair(t)
  // killed (the kernel's OOM killer, an operator): the caller must not hang. This one is
  // started with the caller's own mmap threshold, which it keeps
  const before = process.env.MALLOC_MMAP_THRESHOLD_
  t.teardown(() => (before === undefined ? delete process.env.MALLOC_MMAP_THRESHOLD_ : (process.env.MALLOC_MMAP_THRESHOLD_ = before)))
  process.env.MALLOC_MMAP_THRESHOLD_ = '131072'
  const build = makeDeltaIsolated(p('old'), p('new'), p('patch'))
  const pid = await buildChild(t)
  t.equal((await environ(pid)).MALLOC_MMAP_THRESHOLD_, '131072', "the caller's value is kept")
  process.kill(pid, 'SIGKILL')
  const e = await build.catch((e: unknown) => e)
  t.match(e, { message: /delta build process exited \(SIGKILL\) before it finished/ })
})

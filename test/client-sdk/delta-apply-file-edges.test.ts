/**
 * Applying file to file (client-sdk/src/delta/apply-file.ts) at its edges: the target
 * file cut to the target's size when it was longer; a patch given as a stream; a patch
 * file larger than the ring of four 1 MiB read buffers; resuming from a progress file,
 * from the start of the patch file or from the recorded offset, with the caller's own
 * progress callback still called; every file handle closed, on success and on failure;
 * what the result reports. Block devices (the size probe) are not reached here.
 */
import { readdir, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta, DeltaError, openSource, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { copyOp, replaceOp, sha256 } from '../../server/delta/encode-op.js'
import { hex, randomBytes, writePatch } from './delta-fixtures.js'

const dir = await mkdtemp(join(tmpdir(), 'slipway-apply-file-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const path = (name: string) => join(dir, name)

const source = randomBytes(200_000, 71)
const target = Buffer.concat([source.subarray(150_000), source.subarray(0, 150_000)])
const ops = [0, 50_000, 100_000, 150_000].map((at) => copyOp(at, (at + 150_000) % 200_000, 50_000, sha256(target.subarray(at, at + 50_000))))
const patch = await writePatch(source, target, ops)
await writeFile(path('src'), source)
await writeFile(path('patch'), patch)

const openFds = async () => (await readdir('/proc/self/fd')).length

async function failure(p: Promise<unknown>) {
  try {
    await p
    return { code: 'ok' }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : (e as { code?: string }).code ?? String(e), message: (e as Error).message }
  }
}

t.test('openSource: the size of a file, reads at a position, close', async (t) => {
  const s = await openSource(path('src'))
  t.equal(s.size, 200_000)
  const buf = Buffer.alloc(10)
  t.equal(await s.read(buf, 199_995), 5, 'a read past the end returns what there is')
  t.ok(buf.subarray(0, 5).equals(source.subarray(199_995)))
  t.equal(await s.read(buf, 100), 10)
  t.ok(buf.equals(source.subarray(100, 110)))
  await s.close()
})

t.test('a longer target file is cut to the target; the result says what was done and what it cost', async (t) => {
  await writeFile(path('out'), Buffer.alloc(300_000, 0xee))
  const before = await openFds()
  const r = await applyDelta(path('src'), path('patch'), path('out'))
  t.ok((await readFile(path('out'))).equals(target), 'exactly the target: nothing of the old file after it')
  t.equal(r.targetSha256, hex(target))
  t.equal(r.targetSize, 200_000)
  t.equal(r.ops, 4)
  t.equal(r.resumedOps, 0)
  t.ok(r.ms >= 0 && r.ms < 60_000, `ms ${r.ms}`)
  // the kernel reports KiB: a Node process peaks far above 10 MiB, and not above its peak now
  t.ok(r.peakRss > 10 << 20 && r.peakRss <= process.resourceUsage().maxRSS * 1024, `peak RSS in bytes (${r.peakRss})`)
  t.equal(await openFds(), before, 'source, patch and target closed')
})

t.test('the patch as a stream of chunks', async (t) => {
  async function* chunks() {
    for (let i = 0; i < patch.length; i += 1000) yield patch.subarray(i, i + 1000)
  }
  await applyDelta(path('src'), chunks(), path('out-stream'))
  t.ok((await readFile(path('out-stream'))).equals(target))
})

t.test('a patch file of more than four 1 MiB reads: the ring of buffers is reused in turn', async (t) => {
  const literal = randomBytes(5 * (1 << 20) + 12_345, 72) // incompressible: the patch is as large
  const big = await writePatch(source, literal, [await replaceOp(0, literal, 1)])
  t.ok(big.length > 5 << 20, `patch of ${big.length} bytes`)
  await writeFile(path('big-patch'), big)
  const r = await applyDelta(path('src'), path('big-patch'), path('big-out'))
  t.equal(r.targetSha256, hex(literal))
  t.ok((await readFile(path('big-out'))).equals(literal))
})

/** Applies with a progress file and a crash in the caller's progress callback at its `stopAt`-th call. */
async function crash(progressPath: string, out: string, stopAt: number) {
  const seen: DeltaProgress[] = []
  const e = await failure(
    applyDelta(path('src'), path('patch'), out, {
      progressPath,
      checkpointBytes: 1,
      onProgress: (p) => {
        seen.push(p)
        if (seen.length === stopAt) throw Object.assign(new Error('crash'), { code: 'TEST_CRASH' })
      },
    }),
  )
  return { e, seen }
}

t.test('progress: saved to the file and handed to the caller; a resume reads it, continues in place, removes it', async (t) => {
  const progressPath = path('progress.json')
  const before = await openFds()
  const { e, seen } = await crash(progressPath, path('resumed'), 2)
  t.same(e, { code: 'TEST_CRASH', message: 'crash' })
  t.equal(await openFds(), before, 'every handle closed after a failure too')
  t.same(seen.map((p) => p.opsDone), [1, 2], 'the caller saw each record')
  const saved = JSON.parse(await readFile(progressPath, 'utf8')) as DeltaProgress
  t.same(saved, seen[1], 'the file holds the last record')
  const calls: number[] = []
  const r = await applyDelta(path('src'), path('patch'), path('resumed'), { progressPath, checkpointBytes: 1, onProgress: (p) => void calls.push(p.opsDone) })
  t.equal(r.resumedOps, 2)
  t.same(calls, [3], 'records after the resumed ones')
  t.ok((await readFile(path('resumed'))).equals(target))
  t.equal((await failure(stat(progressPath))).code, 'ENOENT', 'removed on success')
})

t.test('resume from the recorded offset of the patch file', async (t) => {
  const progressPath = path('progress-2.json')
  await crash(progressPath, path('resumed-2'), 3)
  const saved = JSON.parse(await readFile(progressPath, 'utf8')) as DeltaProgress
  t.equal(saved.opsDone, 3)
  const r = await applyDelta(path('src'), path('patch'), path('resumed-2'), { resume: saved, patchStartsAtResume: true })
  t.equal(r.resumedOps, 3)
  t.ok((await readFile(path('resumed-2'))).equals(target), 'the patch file read from the recorded offset')
  t.ok((await stat(progressPath)).isFile(), 'a progress file not named is left alone')
})

t.test('no progress file: none is written', async (t) => {
  const calls: number[] = []
  await applyDelta(path('src'), path('patch'), path('plain'), { checkpointBytes: 1, onProgress: (p) => void calls.push(p.opsDone) })
  t.same(calls, [1, 2, 3])
  t.same((await readdir(dir)).filter((f) => f.startsWith('progress') && f !== 'progress-2.json'), [], 'no progress file appeared')
})

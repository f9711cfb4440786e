/**
 * The survivors of the first `npm run mutate -- --area delta` on apply.ts and
 * apply-file.ts, each a case no test had: a target size exactly at the image limit; a
 * resume whose recorded prefix is longer than one 1 MiB read, into a slot holding more
 * than the prefix; a resumed file target longer than the target (opened in place, so only
 * the final truncate cuts it); a progress file named but never written (no checkpoint
 * reached), which success must not trip over.
 */
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta, applyDeltaStream, type DeltaProgress } from '../../client-sdk/src/delta/index.js'
import { copyOp, sha256 } from '../../server/delta/encode-op.js'
import { chunked, hex, memSource, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

t.test('a target size exactly at the image limit is accepted', async (t) => {
  const source = randomBytes(30_000, 81)
  const target = Buffer.concat([source.subarray(20_000), source.subarray(0, 20_000)])
  const patch = await writePatch(source, target, [copyOp(0, 20_000, 10_000, sha256(target.subarray(0, 10_000))), copyOp(10_000, 0, 20_000, sha256(target.subarray(10_000)))])
  const sink = new MemSink()
  const r = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 4096), sink }, { limits: { maxImageBytes: 30_000 } })
  t.equal(r.targetSize, 30_000)
  t.ok(sink.data.equals(target))
})

t.test('resume re-reads exactly the recorded prefix, also when it is longer than one read', async (t) => {
  const MiB = 1 << 20
  const source = randomBytes(3 * MiB, 82)
  const size = 600_000
  const target = Buffer.concat([0, 1, 2].map((i) => source.subarray(MiB + i * size, MiB + (i + 1) * size)).concat(source.subarray(0, 100)))
  const ops = [0, 1, 2].map((i) => copyOp(i * size, MiB + i * size, size, sha256(target.subarray(i * size, (i + 1) * size))))
  ops.push(copyOp(3 * size, 0, 100, sha256(source.subarray(0, 100))))
  const patch = await writePatch(source, target, ops)
  const sink = new MemSink()
  let saved: DeltaProgress | undefined
  await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 65_536), sink }, {
    checkpointBytes: 2 * size,
    onProgress: (p) => void (saved = p),
  })
  t.equal(saved?.targetOffset, 2 * size, 'a record after two ops: 1.2 MB of prefix')
  // the slot holds the whole target (the apply went on after the record) and more
  sink.data = Buffer.concat([sink.data, Buffer.from('bytes after the target')])
  const r = await applyDeltaStream({ source: memSource(source), patch: chunked(patch, 65_536), sink }, { resume: saved })
  t.equal(r.resumedOps, 2)
  t.equal(r.targetSha256, hex(target))
})

t.test('file to file: a resumed target longer than the target is cut; a progress file never written is no error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-apply-surv-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = (n: string) => join(dir, n)
  const source = randomBytes(100_000, 83)
  const target = Buffer.concat([source.subarray(50_000), source.subarray(0, 50_000)])
  const ops = [copyOp(0, 50_000, 50_000, sha256(target.subarray(0, 50_000))), copyOp(50_000, 0, 50_000, sha256(target.subarray(50_000)))]
  await writeFile(path('src'), source)
  await writeFile(path('patch'), await writePatch(source, target, ops))

  const progressPath = path('progress.json')
  const crash = await applyDelta(path('src'), path('patch'), path('out'), {
    progressPath,
    checkpointBytes: 1,
    onProgress: () => {
      throw Object.assign(new Error('crash'), { code: 'TEST_CRASH' })
    },
  }).catch((e: { code?: string }) => e.code)
  t.equal(crash, 'TEST_CRASH')
  await appendFile(path('out'), Buffer.alloc(70_000, 0xee)) // a slot file longer than the image
  const r = await applyDelta(path('src'), path('patch'), path('out'), { progressPath })
  t.equal(r.resumedOps, 1)
  t.ok((await readFile(path('out'))).equals(target), 'resumed in place, then cut to the target size')

  // a progress file is named, but the patch is too small for any checkpoint: none is written
  const never = path('never.json')
  const r2 = await applyDelta(path('src'), path('patch'), path('out2'), { progressPath: never })
  t.equal(r2.targetSha256, hex(target))
  t.equal(await stat(never).then(() => 'exists', (e: { code?: string }) => e.code), 'ENOENT')
})

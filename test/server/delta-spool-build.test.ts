/**
 * Member codec 3 (spool) end to end: a gzip member that decodes to more than the 4 MiB a
 * codec-1/2 op may hold (a kernel, an initramfs) is diffed inside its puff by the builder
 * and rebuilt by the device through a spool file beside the target; the patch is offered
 * only as `slipway-delta-v3+spool`, and its version-1 twin replaces the member with
 * REPLACE ops of at most 4 MiB that any applier takes.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta, decodeHeader, decodeOpHeader, OpType, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { downgradeToV1 } from '../../server/delta/downgrade.js'
import { makeDelta } from '../../server/delta/index.js'
import { deltaOfferFormat } from '../../server/domain/deltas/delta-formats.js'
import { changelog, randomBytes } from '../client-sdk/delta-fixtures.js'

const gzip = (level: string, b: Buffer) => execFileSync('gzip', [level, '-n', '-c'], { input: b, maxBuffer: 1 << 28 })

/** the ops of a patch, with the first descriptor byte of each MEMBER op (its codec) */
function ops(patch: Buffer): Array<OpHeader & { codec?: number }> {
  const h = decodeHeader(patch.subarray(0, 128))
  const out: Array<OpHeader & { codec?: number }> = []
  let at = 128
  for (let i = 0; i < h.opCount; i++) {
    const op = decodeOpHeader(patch.subarray(at, at + 80), h.version)
    out.push(op.type === OpType.MEMBER ? { ...op, codec: patch[at + 80]! } : op)
    at += 80 + op.payloadLength
  }
  return out
}

t.test('a 6.5 MB-decoded gzip member: one spooled op, a patch a fraction of the byte diff, rebuilt beside the target', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-spool-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const text = changelog(145_000, 61)
  // three lines changed and one inserted, as between two builds of a kernel or an initramfs
  const edited = Buffer.from(changelog(145_000, 61, 90_000).toString().replace(/^.*$/m, '  * Rebuilt.').replace('(#17)', '(#18)').replace('(#201)', '(#202)'))
  const pad = randomBytes(300_000, 62)
  await writeFile(join(dir, 'old.img'), Buffer.concat([pad, gzip('-9', text), pad]))
  await writeFile(join(dir, 'new.img'), Buffer.concat([pad, gzip('-9', edited), pad]))
  t.ok(edited.length > 4 << 20, `the member decodes to ${edited.length} B: over what codecs 1 and 2 take`)

  const spool = await makeDelta(join(dir, 'old.img'), join(dir, 'new.img'), join(dir, 'spool.patch'), { formatVersion: 3, memberCodecs: ['puff', 'spool'] })
  const puffOnly = await makeDelta(join(dir, 'old.img'), join(dir, 'new.img'), join(dir, 'puff.patch'), { formatVersion: 3, memberCodecs: ['puff'] })
  t.same(spool.memberCodecs, ['spool'])
  t.equal(spool.stats.membersSpool, 1)
  t.equal(spool.stats.membersSpoolable, 1)
  t.equal(deltaOfferFormat(spool.formatVersion, spool.memberCodecs), 'slipway-delta-v3+spool', 'offered only to agents that report spool')
  t.same(
    ops(await readFile(join(dir, 'spool.patch'))).flatMap((o) => (o.type === OpType.MEMBER ? [o.codec] : [])),
    [3],
    'one MEMBER op, codec 3',
  )
  t.equal(puffOnly.stats.membersSpoolable, 0, 'without the codec the member is not even proven')
  t.ok(spool.size * 10 < puffOnly.size, `${spool.size} B against ${puffOnly.size} B as a byte diff`)

  const out = join(dir, 'out', 'new.img')
  await rm(join(dir, 'out'), { recursive: true, force: true })
  await (await import('node:fs/promises')).mkdir(join(dir, 'out'))
  await applyDelta(join(dir, 'old.img'), join(dir, 'spool.patch'), out, { verifySource: true })
  t.ok((await readFile(out)).equals(await readFile(join(dir, 'new.img'))), 'the file applier rebuilds the target')
  t.same(await readdir(join(dir, 'out')), ['new.img'], 'its spool file was in the target folder and is gone')
})

t.test('spool needs format 3', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-spool-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'a'), randomBytes(10_000, 1))
  await t.rejects(makeDelta(join(dir, 'a'), join(dir, 'a'), join(dir, 'p'), { formatVersion: 2, memberCodecs: ['puff', 'spool'] }), {
    code: 'DELTA_BUILD_INPUT',
    message: /'spool' needs format version 3/,
  })
  await t.rejects(readFile(join(dir, 'p')), { code: 'ENOENT' }, 'nothing written')
})

t.test("the version-1 twin of a spooled member: REPLACE ops of at most 4 MiB, which any applier takes", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-spool-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // random bytes deflate to stored blocks: a member of ~5.4 MB compressed, a few lines of text changed
  const blob = randomBytes(5 << 20, 71)
  const member = (edit: number) => gzip('-1', Buffer.concat([blob, changelog(3000, 72, edit)]))
  await writeFile(join(dir, 'old.img'), Buffer.concat([randomBytes(4096, 73), member(-1)]))
  await writeFile(join(dir, 'new.img'), Buffer.concat([randomBytes(4096, 73), member(1500)]))
  const made = await makeDelta(join(dir, 'old.img'), join(dir, 'new.img'), join(dir, 'v3'), { formatVersion: 3, memberCodecs: ['puff', 'spool'] })
  t.equal(made.stats.membersSpool, 1, 'the member is spooled')
  const memberOp = ops(await readFile(join(dir, 'v3'))).find((o) => o.type === OpType.MEMBER)!
  t.ok(memberOp.targetLength > 4 << 20, `its compressed bytes (${memberOp.targetLength} B) are over 4 MiB`)
  const twin = await downgradeToV1(join(dir, 'v3'), join(dir, 'new.img'), join(dir, 'v1'))
  t.equal(twin?.replaced, 1)
  const v1 = ops(await readFile(join(dir, 'v1')))
  const cover = v1.filter((o) => o.targetOffset >= memberOp.targetOffset && o.targetOffset < memberOp.targetOffset + memberOp.targetLength)
  t.ok(cover.length >= 2 && cover.every((o) => o.type === OpType.REPLACE && o.targetLength <= 4 << 20), `${cover.length} REPLACE ops of ≤ 4 MiB`)
  t.equal(
    cover.reduce((n, o) => n + o.targetLength, 0),
    memberOp.targetLength,
    'covering the member exactly',
  )
  await applyDelta(join(dir, 'old.img'), join(dir, 'v1'), join(dir, 'out.img'), { limits: { maxOpTargetBytes: 4 << 20 } })
  t.ok((await readFile(join(dir, 'out.img'))).equals(await readFile(join(dir, 'new.img'))), 'the twin rebuilds the target within a 4 MiB op limit')
})

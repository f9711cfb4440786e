/**
 * Format 2 with member codec 2 end to end: an ext4 image holding GNU-gzip members (which
 * no zlib parameters reproduce) is diffed inside its .gz files through their puffs, and
 * the device-side applier huffs them back to the exact bytes.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDelta, decodeHeader, decodeOpHeader, OpType } from '../../client-sdk/src/delta/index.js'
import { makeDelta } from '../../server/delta/index.js'
import { deltaOfferFormat } from '../../server/domain/deltas/delta-formats.js'
import { changelog, randomBytes } from '../client-sdk/delta-fixtures.js'

/** an 8 MiB ext4 image of `files` (mke2fs -d), deterministic enough for a pair */
async function ext4(dir: string, name: string, files: Record<string, Buffer>): Promise<string> {
  const root = join(dir, `${name}-root`)
  await mkdir(root, { recursive: true })
  for (const [f, b] of Object.entries(files)) await writeFile(join(root, f), b)
  const image = join(dir, `${name}.ext4`)
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-U', 'clear', '-E', 'hash_seed=00000000-0000-0000-0000-000000000000', '-d', root, image, '8M'], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' },
  })
  return image
}

const gzip9n = (b: Buffer) => execFileSync('gzip', ['-9n', '-c'], { input: b })

/** the MEMBER ops of a patch and their codecs (first descriptor byte) */
function memberCodecs(patch: Buffer): number[] {
  const h = decodeHeader(patch.subarray(0, 128))
  const out: number[] = []
  let at = 128
  for (let i = 0; i < h.opCount; i++) {
    const op = decodeOpHeader(patch.subarray(at, at + 80), h.version)
    if (op.type === OpType.MEMBER) out.push(patch[at + 80]!)
    at += 80 + op.payloadLength
  }
  return out
}

t.test('GNU gzip members in an ext4 image: codec 2 ops, a patch far smaller than format 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-puff-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const files = (edit: number) => {
    const f: Record<string, Buffer> = { 'blob.bin': randomBytes(256 << 10, 40) }
    for (let i = 0; i < 6; i++) f[`changelog${i}.gz`] = gzip9n(changelog(1500 + 200 * i, 50 + i, i % 2 ? edit : -1))
    return f
  }
  const oldPath = await ext4(dir, 'old', files(-1))
  const newPath = await ext4(dir, 'new', files(700))
  const v1 = await makeDelta(oldPath, newPath, join(dir, 'p1'), { verify: false }) // only its size matters
  const v2 = await makeDelta(oldPath, newPath, join(dir, 'p2'), { formatVersion: 2, memberCodecs: ['deflate', 'puff'] })
  const patch = await readFile(join(dir, 'p2'))
  t.equal(decodeHeader(patch.subarray(0, 128)).version, 2)
  t.equal(v2.stats.membersProven, 0, 'zlib parameters reproduce none of the GNU gzip members')
  t.ok(v2.stats.membersPuffable >= 3, `${v2.stats.membersPuffable} changed members round-trip through their puff`)
  t.equal(v2.stats.membersPuff, 3, 'the three changed .gz files are codec-2 MEMBER ops')
  t.same(memberCodecs(patch), [2, 2, 2])
  t.same(v2.memberCodecs, ['puff'], 'the patch needs an applier that takes codec 2, whatever its zlib')
  t.equal(v2.formatVersion, 2)
  t.equal(deltaOfferFormat(v2.formatVersion, v2.memberCodecs), 'slipway-delta-v2+puff', 'its offer format')
  t.ok(v2.size < v1.size / 2, `v2 patch ${v2.size} B < half of v1's ${v1.size} B`)
  const applied = await applyDelta(oldPath, join(dir, 'p2'), join(dir, 'out'), { expectedTargetSha256: v2.targetSha256 })
  t.equal(applied.targetSha256, v2.targetSha256)
  t.ok((await readFile(join(dir, 'out'))).equals(await readFile(newPath)), 'target rebuilt byte for byte')
  // codec 1 only (the default): nothing proves, so no member op and a version-1 patch
  const c1 = await makeDelta(oldPath, newPath, join(dir, 'p3'), { formatVersion: 2, verify: false })
  t.equal(c1.stats.members, 0)
  t.same(c1.memberCodecs, [])
  t.equal(c1.formatVersion, 1)
  t.equal(deltaOfferFormat(c1.formatVersion, c1.memberCodecs), 'slipway-delta-v1')
})

t.test('zlib-made members: both codecs prove, each member takes the smaller op', async (t) => {
  const { deflateRawSync } = await import('node:zlib')
  const dir = await mkdtemp(join(tmpdir(), 'slipway-puff-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const gz = (b: Buffer) => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]), deflateRawSync(b, { level: 9 }), Buffer.alloc(8)])
  const image = (edit: number) => Buffer.concat([randomBytes(256 << 10, 60), gz(changelog(3000, 61, edit)), randomBytes(100_000, 62), gz(changelog(2500, 63, edit))])
  await writeFile(join(dir, 'old'), image(-1))
  await writeFile(join(dir, 'new'), image(1200))
  const r = await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'p'), { formatVersion: 2, memberCodecs: ['deflate', 'puff'] })
  t.equal(r.stats.membersProven, 2)
  t.equal(r.stats.membersPuffable, 2)
  t.equal(r.stats.members, 2)
  t.equal(r.stats.membersDeflate + r.stats.membersPuff, 2, JSON.stringify({ deflate: r.stats.membersDeflate, puff: r.stats.membersPuff, size: r.size }))
  const puffOnly = await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'q'), { formatVersion: 2, memberCodecs: ['puff'], verify: false })
  const deflateOnly = await makeDelta(join(dir, 'old'), join(dir, 'new'), join(dir, 'd'), { formatVersion: 2, memberCodecs: ['deflate'], verify: false })
  t.same(puffOnly.memberCodecs, ['puff'])
  t.same(deflateOnly.memberCodecs, ['deflate'])
  t.ok(r.size <= Math.min(puffOnly.size, deflateOnly.size) + 64, `both ${r.size} B, puff only ${puffOnly.size} B, deflate only ${deflateOnly.size} B`)
})

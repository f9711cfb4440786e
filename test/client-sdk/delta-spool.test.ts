/**
 * Spooled MEMBER ops (member codec 3, client-sdk/src/delta/ops.ts `spooled`): a gzip
 * member too large to decode in memory is rebuilt through a spool file that nobody else
 * ever sees (unlinked as it is made) and that is gone after the op, whether it applied or
 * failed; its declared sizes are held to maxMemberBytes before anything is read or
 * created; declared lengths that are wrong, a damaged member, a wrong source and a
 * spool folder that cannot be written each end with a clear code and nothing of the op
 * written.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { applyDeltaStream, DeltaError, type ApplyOptions, type SourceReader } from '../../client-sdk/src/delta/index.js'
import { deflateRawSync } from 'node:zlib'
import { MemberCodec } from '../../client-sdk/src/delta/member.js'
import { sha256 } from '../../server/delta/encode-op.js'
import { damage, memSource, MemSink, sampleSpoolDelta, spoolMembers } from './delta-fixtures.js'

const { prefix, oldRaw, newRaw, oldComp, newComp } = spoolMembers
const spoolPatch = sampleSpoolDelta

/** a source that notes, at each read, whether a spool file is open (a deleted file in the spool folder) and the folder's names */
function watched(buf: Buffer, dir: string) {
  const seen = { openSpool: 0, listed: new Set<string>() }
  const inner = memSource(buf)
  const src: SourceReader = {
    size: inner.size,
    read: async (out, position) => {
      for (const name of existsSync(dir) ? readdirSync(dir) : []) seen.listed.add(name)
      for (const fd of readdirSync('/proc/self/fd')) {
        let link = ''
        try {
          link = readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          continue
        }
        if (link.startsWith(dir + '/.slipway-spool-') && link.endsWith('(deleted)')) seen.openSpool++
      }
      return inner.read(out, position)
    },
  }
  return { src, seen }
}

async function run(p: { source: Buffer; patch: Buffer }, dir: string, opts: ApplyOptions = {}) {
  const sink = new MemSink()
  const { src, seen } = watched(p.source, dir)
  try {
    await applyDeltaStream({ source: src, patch: (async function* () { yield p.patch })(), sink }, { spoolDir: dir, limits: { maxOpTargetBytes: 256 << 10 }, ...opts })
    return { code: 'applied', sink, seen }
  } catch (e) {
    return { code: e instanceof DeltaError ? e.code : `not a DeltaError: ${(e as Error).message}`, error: e as Error & { spool?: boolean; code?: string }, sink, seen }
  }
}

const spoolDir = async (t: { teardown: (f: () => Promise<void>) => void }) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-spool-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('a member larger than the op limit is rebuilt through a spool file no one sees, gone after the op', async (t) => {
  const dir = await spoolDir(t)
  const p = await spoolPatch()
  t.ok(newComp.length > 256 << 10 && p.newPuff.length > 256 << 10, `the member decodes to ${newRaw.length} B, puffs to ${p.newPuff.length} B: over the 256 KiB op limit`)
  const r = await run(p, dir)
  t.equal(r.code, 'applied', String(r.error?.message))
  t.ok(r.sink.data.equals(p.target), 'the target, byte for byte')
  t.ok(r.seen.openSpool > 0, 'the source member was read while a spool file was open in the spool folder, already unlinked')
  t.same([...r.seen.listed], [], 'the folder never listed it')
  t.same(readdirSync(dir), [], 'and nothing is left')
  const codec2 = await run(await spoolPatch({ codec: MemberCodec.PUFF }), dir)
  t.equal(codec2.code, 'DELTA_SIZE_LIMIT', 'the same op as codec 2 (decoded in memory) is over the op limit')
})

t.test('declared sizes over maxMemberBytes are refused before anything is read or created', async (t) => {
  const dir = await spoolDir(t)
  const p = await spoolPatch()
  for (const [field, limit] of [
    ['targetLength', newComp.length - 1],
    ['srcLength', oldComp.length - 1],
    ['sourceRawLength', p.oldPuff.length - 1],
    ['targetRawLength', p.newPuff.length - 1],
  ] as const) {
    // the smallest limit one field is over: the others fit under it or are over too, so the field named is the first over
    const r = await run(p, dir, { limits: { maxOpTargetBytes: 256 << 10, maxMemberBytes: limit } })
    t.equal(r.code, 'DELTA_SIZE_LIMIT', `maxMemberBytes ${limit}: refused`)
    t.equal(r.seen.openSpool, 0, `${field}: no spool file made`)
  }
  const huge = await run(await spoolPatch({ sourceRawLength: 2 ** 40 }), dir)
  t.equal(huge.code, 'DELTA_SIZE_LIMIT', 'a declared puff of 1 TiB')
  t.match((huge.error as DeltaError).details, { field: 'sourceRawLength', limit: 256 << 20 }, 'names the field and the default limit (256 MiB)')
  t.same(readdirSync(dir), [])
})

t.test('wrong declared lengths, a wrong hash and damage: clear codes, no bytes of the op, no spool left', async (t) => {
  const dir = await spoolDir(t)
  const good = await spoolPatch()
  const cases: Array<[string, Promise<Awaited<ReturnType<typeof spoolPatch>>>, string]> = [
    ['source puff declared one byte short (a codec bomb)', spoolPatch({ sourceRawLength: good.oldPuff.length - 1 }), 'DELTA_CORRUPT'],
    ['source puff declared one byte long', spoolPatch({ sourceRawLength: good.oldPuff.length + 1 }), 'DELTA_CORRUPT'],
    ['target puff declared one byte short', spoolPatch({ targetRawLength: good.newPuff.length - 1 }), 'DELTA_CORRUPT'],
    ['target puff declared one byte long', spoolPatch({ targetRawLength: good.newPuff.length + 1 }), 'DELTA_CORRUPT'],
    ['the recorded sha256 of another member', spoolPatch({}, { sha256: sha256(oldComp) }), 'DELTA_MEMBER_MISMATCH'],
  ]
  for (const [what, made, want] of cases) {
    const p = await made
    const r = await run(p, dir, { verifySource: false })
    t.equal(r.code, want, `${what}: ${r.error?.message}`)
    t.ok(r.sink.data.length <= prefix.length, `${what}: nothing of the member op written`)
  }
  // damaged patches: any DELTA_* code, never a crash or another error, and the folder stays empty
  const codes = new Set<string>()
  for (let seed = 1; seed <= 40; seed++) {
    const r = await run({ source: good.source, patch: damage(good.patch, seed) }, dir)
    if (r.code === 'applied') t.ok(r.sink.data.equals(good.target), `damage ${seed} changed nothing that matters`)
    else codes.add(r.code)
    t.notOk(r.code.startsWith('not a DeltaError'), `damage ${seed}: ${r.code}`)
  }
  t.ok(codes.size >= 2, `codes seen: ${[...codes].join(', ')}`)
  t.same(readdirSync(dir), [], 'no spool file left by any of them')
})

t.test('a changed source member is DELTA_SOURCE_MISMATCH once the source is hashed', async (t) => {
  const dir = await spoolDir(t)
  const p = await spoolPatch()
  const source = Buffer.from(p.source)
  const other = deflateRawSync(Buffer.from(oldRaw.toString().replace(/leak/g, 'lake')), { level: 9 })
  other.copy(source, prefix.length, 0, Math.min(other.length, oldComp.length))
  const r = await run({ source, patch: p.patch }, dir, { verifySource: false })
  t.equal(r.code, 'DELTA_SOURCE_MISMATCH')
  t.same(readdirSync(dir), [])
})

t.test('a spool folder that cannot be used: the system error, marked as the spool’s, and nothing written', async (t) => {
  const dir = await spoolDir(t)
  const p = await spoolPatch()
  const r = await run(p, join(dir, 'missing'))
  t.equal(r.error?.code, 'ENOENT', 'the system error code')
  t.equal(r.error?.spool, true, 'marked spool: the agent reports its data folder, not the slot')
  t.ok(r.sink.data.length <= prefix.length, 'nothing of the member op written')
})

t.test('a spool folder too small for the member: ENOSPC marked as the spool’s, nothing of the op written, nothing left', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-spool-full-'))
  // a real 256 KiB filesystem: the member needs ~1.5 MB of spool (needs root, as the tests run here)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir])
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir])
    await rm(dir, { recursive: true, force: true })
  })
  const p = await spoolPatch()
  const r = await run(p, dir)
  t.equal(r.error?.code, 'ENOSPC', 'the system error code')
  t.equal(r.error?.spool, true, 'marked spool')
  t.ok(r.sink.data.length <= prefix.length, 'nothing of the member op written')
  t.same(readdirSync(dir), [], 'and the full folder holds nothing afterwards')
})

/**
 * Spooled MEMBER ops (member codec 3, client-sdk/src/delta/ops.ts `spooled`): a gzip
 * member too large to decode in memory is rebuilt through a spool file that nobody else
 * ever sees (unlinked as it is made) and that is gone after the op, whether it applied or
 * failed; its declared sizes are held to maxMemberBytes before anything is read or
 * created; declared lengths that are wrong, a damaged member, a wrong source and a
 * spool folder that cannot be written each end with a clear code and nothing of the op
 * written. Then the units: PullWindow, Spool and SpoolWriter (for the mutants that the
 * applies above cannot tell apart).
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
import { PullWindow, WINDOW } from '../../client-sdk/src/delta/pull-window.js'
import { Spool, SpoolWriter } from '../../client-sdk/src/delta/spool.js'
import { sha256 } from '../../server/delta/encode-op.js'
import { damage, memSource, MemSink, randomBytes, sampleSpoolDelta, spoolMembers } from './delta-fixtures.js'

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
  // the fields in the order they are checked, with their values in this patch
  const sizes: Array<[string, number]> = [
    ['targetLength', newComp.length],
    ['sourceRawLength', p.oldPuff.length],
    ['targetRawLength', p.newPuff.length],
    ['srcLength', oldComp.length],
  ]
  for (const [field, value] of sizes) {
    // one byte under this field: it and perhaps others are over; the first over in check order is named
    const limit = value - 1
    const first = sizes.find(([, v]) => v > limit)![0]
    const r = await run(p, dir, { limits: { maxOpTargetBytes: 256 << 10, maxMemberBytes: limit } })
    t.equal(r.code, 'DELTA_SIZE_LIMIT', `maxMemberBytes ${limit}: refused`)
    t.match((r.error as DeltaError).details, { field: first, limit }, `${field} − 1: names ${first}`)
    t.equal(r.seen.openSpool, 0, `${field}: no spool file made`)
  }
  // each field alone over the default limit (256 MiB): every check stands on its own
  for (const [field, made] of [
    ['sourceRawLength', spoolPatch({ sourceRawLength: 2 ** 40 })],
    ['targetRawLength', spoolPatch({ targetRawLength: 2 ** 40 })],
    ['srcLength', spoolPatch({}, { srcLength: 2 ** 40 })],
  ] as const) {
    const r = await run(await made, dir)
    t.equal(r.code, 'DELTA_SIZE_LIMIT', `${field} of 1 TiB`)
    t.match((r.error as DeltaError).details, { field, limit: 256 << 20 }, `names ${field} and the default limit (256 MiB)`)
    t.equal(r.seen.openSpool, 0, `${field}: no spool file made`)
  }
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

t.test('PullWindow: empty until the first slide, whole windows after, the kept bytes before `from`, and `more` false at the end', async (t) => {
  const stream = randomBytes(600 * 1024 + 5, 81)
  const fills: Array<[number, number]> = []
  const w = new PullWindow({ total: stream.length, fill: (buf, at) => (fills.push([at, buf.length]), buf.set(stream.subarray(at, at + buf.length))) })
  t.same([w.len, w.base, w.more, fills.length], [0, 0, true, 0], 'nothing read before the first slide')
  t.equal(w.slide(0), 0)
  t.same([w.base, w.len], [0, WINDOW], 'a whole window')
  const from = WINDOW - 100
  t.equal(w.slide(from, 8), 8, '`from` moves to just after the 8 bytes kept')
  t.same([w.base, w.len], [from - 8, WINDOW], 'the window starts 8 bytes before it, full again')
  t.ok(Buffer.from(w.buf.subarray(0, w.len)).equals(stream.subarray(w.base, w.base + w.len)), 'holding the stream’s bytes there')
  t.equal(w.more, true)
  t.equal(w.slide(w.len), 0, 'keeping nothing')
  t.equal(w.base + w.len, stream.length, 'the stream’s end')
  t.ok(w.len < WINDOW, 'in a part window')
  t.ok(Buffer.from(w.buf.subarray(0, w.len)).equals(stream.subarray(w.base)), 'its last bytes')
  t.equal(w.more, false, 'nothing more')
  t.ok(
    fills.every(([at, n]) => n > 0 && at >= 0 && at + n <= stream.length),
    `${fills.length} reads, each inside the stream and none empty`,
  )
})

t.test('Spool: reads what was written, refuses reads past it (marked spool), and close() gives its descriptor back', async (t) => {
  const dir = await spoolDir(t)
  const fds = () => readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)
    } catch {
      return false
    }
  }).length
  const s = Spool.open(dir)
  t.same(readdirSync(dir), [], 'unlinked as it is made')
  t.equal(fds(), 1, 'one descriptor on it')
  const bytes = randomBytes(3000, 82)
  s.write(bytes, 100)
  const back = Buffer.alloc(3000)
  s.read(back, 100)
  t.ok(back.equals(bytes), 'the bytes written, where they were written')
  const r = s.region(100, 3000)
  const part = Buffer.alloc(10)
  r.fill(part, 2990)
  t.ok(part.equals(bytes.subarray(2990)) && r.total === 3000, 'a region reads relative to its start')
  t.throws(() => s.read(Buffer.alloc(10), 3095), { spool: true, message: /spool file ends before what was written/ }, 'a read past the end')
  s.close()
  t.equal(fds(), 0, 'close() gives the descriptor back')
  t.throws(() => s.read(Buffer.alloc(1), 0), { code: 'EBADF', spool: true }, 'and a read after it is the system’s error, marked spool')
})

t.test('SpoolWriter: one write per full buffer, at consecutive offsets, and the rest on flush()', async (t) => {
  const writes: Array<[number, string]> = []
  const fake = { write: (b: Uint8Array, at: number) => void writes.push([at, Buffer.from(b).toString()]) } as unknown as Spool
  const w = new SpoolWriter(fake, 1000, Buffer.alloc(8))
  w.push(Buffer.from('abc'))
  w.push(Buffer.from('defgh')) // fills the buffer exactly
  w.push(Buffer.from('ijklmnopqr')) // a full buffer and 2 bytes
  t.same(writes, [
    [1000, 'abcdefgh'],
    [1008, 'ijklmnop'],
  ])
  w.flush()
  t.same(writes.at(-1), [1016, 'qr'], 'the rest')
})

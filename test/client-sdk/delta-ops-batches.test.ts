/**
 * The BSDIFF runner's batches (client-sdk/src/delta/ops.ts): control entries are decoded
 * a batch at a time, the source bytes they add to are gathered into the 1 MiB scratch
 * buffer (read in source order, nearby pieces merged into one read), then the batch is
 * applied from memory. Each case below is checked byte for byte against a plain bspatch
 * loop over the same streams: more entries than one batch holds, entries that straddle
 * the buffer's end (carried to the next batch), an entry larger than the buffer
 * (streamed through it), pieces out of source order and overlapping, and how many
 * reads the source sees (merged, not one per entry); and a COPY op longer than its two
 * half-buffers.
 */
import t from 'tap'
import { applyDeltaStream, type SourceReader } from '../../client-sdk/src/delta/index.js'
import { bsdiffOp, copyOp, sha256 } from '../../server/delta/encode-op.js'
import { chunked, MemSink, randomBytes, writePatch } from './delta-fixtures.js'

type Control = Array<[number, number, number]>
const MiB = 1 << 20
const source = randomBytes(6 * MiB, 33)

/** bspatch without checks: the bytes an op with these streams must produce */
function bspatch(srcOffset: number, control: Control, diff: Buffer, extra: Buffer): Buffer {
  const parts: Buffer[] = []
  let oldpos = srcOffset
  let d = 0
  let e = 0
  for (const [x, y, z] of control) {
    const piece = Buffer.from(source.subarray(oldpos, oldpos + x))
    for (let i = 0; i < x; i++) piece[i] = piece[i]! + diff[d++]!
    parts.push(piece, extra.subarray(e, e + y))
    e += y
    oldpos += x + z
  }
  return Buffer.concat(parts)
}

/** Applies one BSDIFF op per control list, each over the whole source; returns the output, the expected bytes and the source's read calls. */
async function run(...controls: Control[]) {
  const ops = []
  const targets: Buffer[] = []
  for (const [k, control] of controls.entries()) {
    const sumX = control.reduce((s, [x]) => s + x, 0)
    const sumY = control.reduce((s, [, y]) => s + y, 0)
    const diff = randomBytes(sumX, 8 + k)
    const extra = randomBytes(sumY, 9 + k)
    const target = bspatch(0, control, diff, extra)
    const targetOffset = targets.reduce((s, b) => s + b.length, 0)
    ops.push(await bsdiffOp({ targetOffset, target, srcOffset: 0, srcLength: source.length, control, diff, extra }, 1))
    targets.push(target)
  }
  const expected = Buffer.concat(targets)
  const patch = await writePatch(source, expected, ops)
  const reads: Array<[number, number]> = []
  const src: SourceReader = {
    size: source.length,
    read: async (out, position) => {
      reads.push([position, out.length])
      return source.copy(out, 0, position, Math.min(source.length, position + out.length))
    },
  }
  const sink = new MemSink()
  await applyDeltaStream({ source: src, patch: chunked(patch, 64 * 1024), sink }, { verifySource: false })
  return { out: sink.data, expected, reads }
}

/** n entries of a few bytes to a few KiB, each seeking somewhere else in the source */
function scattered(n: number, seed: number): Control {
  const r = randomBytes(n * 4, seed)
  const control: Control = []
  let oldpos = 0
  for (let i = 0; i < n; i++) {
    const x = 1 + (((r[4 * i]! << 8) | r[4 * i + 1]!) % 48) // 1 .. 48: a batch ends at its entry limit first
    const y = r[4 * i + 2]! % 8
    // next position: mostly near (a few KiB on), sometimes far back or forward
    const far = r[4 * i + 3]! < 32
    const want = far ? (r[4 * i + 3]! * 131_071) % (source.length - 8192) : oldpos + x + (r[4 * i + 3]! % 64) * 64
    const next = Math.min(Math.max(0, want), source.length - 8192)
    control.push([x, y, next - (oldpos + x)])
    oldpos = next
  }
  return control
}

t.test('more entries than one batch holds, scattered over the source', async (t) => {
  const control = scattered(40_000, 3) // a batch ends at 16,384 entries or 1 MiB of source bytes
  const { out, expected, reads } = await run(control)
  t.equal(out.length, expected.length)
  t.ok(out.equals(expected), `${control.length} entries, ${expected.length} bytes: the same bytes as bspatch`)
  t.ok(reads.length < control.length / 4, `nearby pieces share a read: ${reads.length} reads for ${control.length} entries`)
})

t.test('entries that straddle the end of the buffer wait for the next batch', async (t) => {
  const k = 1024
  const control: Control = [
    [700 * k, 3, 10 * k], // batch 1
    [700 * k, 0, -900 * k], // 1,400 KiB with the first: carried, starts batch 2
    [400 * k, 5, 0], // 1,100 KiB: carried again, starts batch 3
    [1, 0, 0],
    [MiB - 1, 0, 0], // 400 KiB + 1 MiB: carried, starts batch 4, which it fills exactly
    [0, 7, 3], // extra only: no source bytes, fits
    [2, 0, 0], // one byte too many: batch 5
  ]
  const { out, expected, reads } = await run(control)
  t.ok(out.equals(expected), 'carried entries apply in order, at their own oldpos')
  // each batch reads its own pieces once, a carried entry only in the batch it starts
  t.same(
    reads.map(([at, n]) => [at / k, n / k]),
    [[0, 700], [710, 700], [510, 400], [910, 1 / k], [910 + 1 / k, 1024 - 1 / k], [1934 + 3 / k, 2 / k]],
    'one read per piece, in batch order',
  )
})

t.test('a batch that fills the buffer exactly is gathered, not streamed', async (t) => {
  const control: Control = Array.from({ length: 1024 }, () => [1024, 0, 0]) // 1 MiB, contiguous
  const { out, expected, reads } = await run(control)
  t.ok(out.equals(expected))
  t.equal(reads.length, 4, `1,024 contiguous entries of 1 KiB: read as four merged spans (${reads.length} reads)`)
})

t.test('entries of a few KiB fill a batch by their bytes, not by their count', async (t) => {
  // 3,000 entries of 1–2 KiB, each a few bytes after the last: ~4.5 MiB of source bytes in 4–5 batches
  const control: Control = Array.from({ length: 3000 }, (_, i) => [1024 + ((i * 37) % 1024), 1, 100])
  const { out, expected, reads } = await run(control)
  t.ok(out.equals(expected))
  t.ok(reads.length < 40, `merged reads, not one per entry: ${reads.length} reads for ${control.length} entries`)
})

t.test('two BSDIFF ops in one patch: the second starts with an empty batch', async (t) => {
  const first: Control = [[700 * 1024, 1, 0], [700 * 1024, 2, -1000]] // ends with a carried entry in the batch
  const second: Control = [[10, 3, 100], [20, 0, 0]]
  const { out, expected } = await run(first, second)
  t.ok(out.equals(expected), 'nothing of the first op is run again in the second')
})

t.test('an entry larger than the buffer is streamed through it, between batched ones', async (t) => {
  const control: Control = [
    [100, 1, 5000],
    [50, 0, 0],
    [2.5 * MiB, 4, -(2.5 * MiB) + 77], // larger than the 1 MiB buffer, then back near the start
    [3000, 2, 10],
    [MiB + 1, 0, -MiB], // one more than the buffer, alone in its batch
    [10, 0, 0],
  ]
  const { out, expected, reads } = await run(control)
  t.ok(out.equals(expected), 'the same bytes as bspatch')
  const big = (at: number) => reads.filter(([p]) => p === 5150 + at).map(([, n]) => n)
  t.same([big(0), big(MiB), big(2 * MiB)], [[MiB], [MiB], [MiB / 2]], 'the large entry is read once, in buffer-sized chunks, and not gathered first')
})

t.test('pieces out of source order, overlapping, and repeated, in one batch', async (t) => {
  const control: Control = [
    [5000, 0, 40_000], // 0..5000, then to 45,000
    [3000, 1, -48_000 + 1000], // 45,000..48,000, then back to 1000 (overlaps the first piece)
    [4000, 0, -5000], // 1000..5000 again (overlap and repeat), then back to 0
    [5000, 0, 200_000], // the first piece once more, then far on
    [64 * 1024, 0, 0], // a piece past the merge distance
  ]
  const { out, expected, reads } = await run(control)
  t.ok(out.equals(expected), 'each entry gets its own source bytes, whatever the read order')
  t.ok(reads.length <= 3, `overlapping and nearby pieces are read together (${reads.length} reads)`)
})

t.test('pieces merged into one read at the very end of the source', async (t) => {
  const end = source.length
  // a seek to end − 2000, 1000 bytes there, then the last 500: one merged read that must stop at the last byte
  const { out, expected, reads } = await run([[0, 0, end - 2000], [1000, 0, 500], [500, 0, 0]])
  t.ok(out.equals(expected))
  t.same(reads, [[end - 2000, 2000]], 'one read, from the first piece to the end of the last')
})

t.test('a COPY op longer than the buffer streams through its two halves', async (t) => {
  const target = source.subarray(1000, 1000 + 3 * MiB + 17)
  const op = copyOp(0, 1000, target.length, sha256(target))
  const patch = await writePatch(source, target, [op])
  // a source whose reads finish later: the next half is read while this one is written
  const slow: SourceReader = {
    size: source.length,
    read: (out, position) => new Promise((resolve) => setImmediate(() => resolve(source.copy(out, 0, position, position + out.length)))),
  }
  for (const src of [slow, { size: source.length, read: async (out: Buffer, p: number) => source.copy(out, 0, p, p + out.length) }]) {
    const sink = new MemSink()
    await applyDeltaStream({ source: src, patch: chunked(patch, 64 * 1024), sink }, { verifySource: false })
    t.ok(sink.data.equals(target), 'every half lands where it belongs')
  }
})

/**
 * Member codec 3's parsers (puffStream / huffStream): the same puff and the same deflate
 * bytes as puff() and huff() for streams many windows long (GNU gzip, node:zlib at every
 * strategy, stored blocks, fixed codes), literal runs cut at SPOOL_MAX_RUN, reads that
 * stay inside the stream, chunks handed out no larger than two windows, and for damaged
 * input the same DELTA_* code as the in-memory parsers, wherever a window ends.
 */
import { execFileSync } from 'node:child_process'
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import t from 'tap'
import { huff, huffStream } from '../../client-sdk/src/delta/huff.js'
import { puff, puffStream, SPOOL_MAX_RUN } from '../../client-sdk/src/delta/puff.js'
import { WINDOW, type ByteSource } from '../../client-sdk/src/delta/pull-window.js'
import { changelog, randomBytes, refusal } from './delta-fixtures.js'

/** a ByteSource over `b` that records the largest chunk and checks every read lies inside the stream */
function source(b: Uint8Array) {
  const seen = { reads: 0, outside: 0 }
  const src: ByteSource = {
    total: b.length,
    fill(buf, at) {
      seen.reads++
      if (at < 0 || at + buf.length > b.length || buf.length === 0) seen.outside++
      buf.set(b.subarray(at, at + buf.length))
    },
  }
  return { src, seen }
}

function streamPuff(d: Uint8Array, maxOut: number) {
  const chunks: Buffer[] = []
  const { src, seen } = source(d)
  const n = puffStream(src, maxOut, (c) => chunks.push(Buffer.from(c)))
  const out = Buffer.concat(chunks)
  return { out, n, largest: Math.max(0, ...chunks.map((c) => c.length)), seen }
}

function streamHuff(p: Uint8Array, maxOut: number) {
  const chunks: Buffer[] = []
  const { src, seen } = source(p)
  const n = huffStream(src, maxOut, (c) => chunks.push(Buffer.from(c)))
  return { out: Buffer.concat(chunks), n, largest: Math.max(0, ...chunks.map((c) => c.length)), seen }
}

/** the code a call ends with ('no error', a DELTA_* code, or what else it threw) */
const code = (f: () => unknown) => refusal(f).code

const text = changelog(60_000, 5) // ~2.7 MB: about ten windows decoded, three of deflate
const streams: Array<[string, Buffer]> = [
  ['gzip -9n text', deflateRawSync(text, { level: 9 })],
  ['level 1 text', deflateRawSync(text, { level: 1 })],
  ['Z_FIXED text', deflateRawSync(text, { strategy: constants.Z_FIXED })],
  ['Z_HUFFMAN_ONLY text (long literal runs)', deflateRawSync(text.subarray(0, 900_000), { strategy: constants.Z_HUFFMAN_ONLY })],
  ['stored blocks (random bytes, level 0)', deflateRawSync(randomBytes(700_000, 9), { level: 0 })],
  ['random bytes at level 9 (stored and Huffman blocks)', deflateRawSync(Buffer.concat([randomBytes(400_000, 3), text.subarray(0, 300_000)]), { level: 9 })],
  ['GNU gzip -9n', gzipBody(execFileSync('gzip', ['-9n', '-c'], { input: text, maxBuffer: 1 << 26 }))],
]

function gzipBody(gz: Buffer): Buffer {
  const r = inflateRawSync(gz.subarray(10), { info: true }) as unknown as { engine: { bytesWritten: number } }
  return gz.subarray(10, 10 + r.engine.bytesWritten)
}

t.test('streamed puffs huff back bit for bit, in and out of memory, through windows of 256 KiB', async (t) => {
  for (const [name, d] of streams) {
    const cap = 2 * inflateRawSync(d).length + 65536
    const whole = puff(d, cap)
    const s = streamPuff(d, cap)
    t.equal(s.n, s.out.length, `${name}: puffStream returns the length it handed out`)
    t.equal(s.seen.outside, 0, `${name}: every read inside the stream`)
    t.ok(d.length <= WINDOW || s.seen.reads > 1, `${name}: ${s.seen.reads} windows for ${d.length} B`)
    t.ok(s.largest <= WINDOW, `${name}: chunks of at most one window (${s.largest} B)`)
    t.ok(huff(s.out, d.length).equals(d), `${name}: huff() of the streamed puff`)
    const h = streamHuff(s.out, d.length)
    t.ok(h.out.equals(d) && h.n === d.length, `${name}: huffStream() of it`)
    t.ok(h.largest <= 2 * WINDOW, `${name}: deflate handed out in chunks of at most two windows (${h.largest} B)`)
    t.equal(h.seen.outside, 0, `${name}: huffStream reads inside the puff`)
    t.ok(streamHuff(whole, d.length).out.equals(d), `${name}: huffStream() of the in-memory puff`)
    // zlib and gzip blocks hold at most 32 Ki symbols, so no run reaches the cut: the same puff
    t.ok(s.out.equals(whole), `${name}: the same puff as puff()`)
  }
  // zlib's blocks hold at most 32 Ki symbols: a run past the cut takes a hand-made block
  const long = fixedLiterals(150_000)
  t.ok(inflateRawSync(long).length === 150_000, 'one fixed-code block of 150,000 literals inflates')
  const cut = streamPuff(long, 1 << 20).out
  const one = puff(long, 1 << 20)
  t.notOk(cut.equals(one), 'its streamed puff cuts the run, so it differs from puff()')
  // 150,000 = 65,536 + 65,536 + 18,928: three long-run tags of 4 bytes instead of one
  t.equal(cut.length, one.length + 8, `by the tags of the two cuts (${cut.length} vs ${one.length} B)`)
  t.equal(SPOOL_MAX_RUN, 65_536)
  t.ok(huff(cut, long.length).equals(long) && streamHuff(cut, long.length).out.equals(long), 'and huffs to the same bytes either way')
})

/** a raw deflate stream of one final fixed-code block of n literals 'a'…'z' (RFC 1951 3.2.6: codes 0x30 + b, 8 bits) */
function fixedLiterals(n: number): Buffer {
  const out: number[] = []
  let acc = 0
  let bits = 0
  const put = (v: number, len: number) => {
    for (let i = 0; i < len; i++) {
      acc |= ((v >> i) & 1) << bits
      if (++bits === 8) out.push(acc), (acc = 0), (bits = 0)
    }
  }
  const code = (c: number, len: number) => {
    for (let i = len - 1; i >= 0; i--) put((c >> i) & 1, 1)
  }
  put(1, 1) // final
  put(1, 2) // fixed codes
  for (let i = 0; i < n; i++) code(0x30 + 97 + (i % 26), 8)
  code(0, 7) // end of block
  if (bits > 0) out.push(acc)
  return Buffer.from(out)
}

t.test('damaged deflate: the same code streamed as in memory, wherever the window ends', async (t) => {
  const d = streams[0]![1]
  const cap = 2 * text.length + 65536
  const cuts = [1, 1000, WINDOW - 3, WINDOW, WINDOW + 1, 2 * WINDOW + 7, d.length - 1]
  for (const n of cuts) t.equal(code(() => streamPuff(d.subarray(0, n), cap)), code(() => puff(d.subarray(0, n), cap)), `cut at ${n}: ${code(() => puff(d.subarray(0, n), cap))}`)
  t.equal(code(() => streamPuff(Buffer.concat([d, Buffer.from([0])]), cap)), 'DELTA_CORRUPT', 'a byte after the final block')
  t.equal(code(() => streamPuff(d, 100_000)), 'DELTA_CORRUPT', 'a codec bomb: puffs past maxOut')
  const stored = streams[4]![1]
  for (const n of [WINDOW - 2, WINDOW + 3, stored.length - 2]) t.equal(code(() => streamPuff(stored.subarray(0, n), 1 << 22)), 'DELTA_CORRUPT', `stored blocks cut at ${n}`)
  let same = 0
  for (let seed = 1; seed <= 60; seed++) {
    const x = Buffer.from(d)
    const r = randomBytes(4, seed)
    const at = r.readUInt32LE(0) % x.length
    x[at] = x[at]! ^ (1 << (seed % 8))
    const a = code(() => streamPuff(x, cap))
    const b = code(() => puff(x, cap))
    if (a === b) same++
    else t.fail(`flip at ${at}: streamed ${a}, in memory ${b}`)
  }
  t.equal(same, 60, '60 flipped streams: the same outcome both ways')
})

t.test('damaged puffs: huffStream refuses as huff() does', async (t) => {
  const d = streams[0]![1]
  const p = streamPuff(d, 2 * text.length + 65536).out
  for (const n of [1, 5000, WINDOW, WINDOW + 1, p.length - 1]) t.equal(code(() => streamHuff(p.subarray(0, n), d.length)), code(() => huff(p.subarray(0, n), d.length)), `puff cut at ${n}`)
  t.equal(code(() => streamHuff(Buffer.concat([p, Buffer.from([1])]), d.length)), 'DELTA_CORRUPT', 'a byte after the final block')
  t.equal(code(() => streamHuff(p, d.length - 1)), 'DELTA_MEMBER_MISMATCH', 'one byte more than the recorded length')
  t.equal(code(() => streamHuff(p, WINDOW)), 'DELTA_MEMBER_MISMATCH', 'a window more than the recorded length')
  let same = 0
  for (let seed = 1; seed <= 80; seed++) {
    const x = Buffer.from(p)
    const at = randomBytes(4, seed).readUInt32LE(0) % x.length
    x[at] = x[at]! ^ (1 << (seed % 8))
    let streamed: Buffer | undefined
    let whole: Buffer | undefined
    const a = code(() => (streamed = streamHuff(x, d.length).out))
    const b = code(() => (whole = huff(x, d.length)))
    const equal = !streamed || !whole || streamed.equals(whole)
    if (a === b && equal) same++
    else t.fail(`flip at ${at}: streamed ${a}, in memory ${b}${equal ? '' : ', other bytes'}`)
  }
  t.equal(same, 80, '80 flipped puffs: the same outcome (and bytes) both ways')
})

/**
 * Member codec 2 (puff.ts / huff.ts): a deflate stream's puff huffs back to exactly the
 * same bytes, whatever encoder made it (GNU gzip, vanilla zlib, Node's zlib at every
 * level and strategy, stored blocks, odd padding bits); invalid deflate, codec bombs and
 * malformed puffs are refused with their DELTA_* code, never a bare TypeError/RangeError.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import t from 'tap'
import { DeltaError } from '../../client-sdk/src/delta/index.js'
import { huff } from '../../client-sdk/src/delta/huff.js'
import { decodeDescriptor, encodeDescriptor, inflateMember, MemberCodec, recompressMember } from '../../client-sdk/src/delta/member.js'
import { puff } from '../../client-sdk/src/delta/puff.js'
import { changelog, randomBytes } from './delta-fixtures.js'

const code = (f: () => unknown) => {
  try {
    f()
    return 'no error'
  } catch (e) {
    return e instanceof DeltaError ? e.code : `not a DeltaError: ${String(e)}`
  }
}
const cap = (d: Buffer) => 2 * inflateRawSync(d).length + 65536

function roundTrips(d: Buffer): boolean {
  const p = puff(d, cap(d))
  return huff(p, d.length).equals(d)
}

/** the raw deflate body of a gzip file (RFC 1952 header, up to the 8-byte trailer) */
function gzipBody(gz: Buffer): Buffer {
  const flags = gz[3]!
  let p = 10
  if (flags & 4) p += 2 + gz.readUInt16LE(p)
  if (flags & 8) p = gz.indexOf(0, p) + 1
  if (flags & 16) p = gz.indexOf(0, p) + 1
  if (flags & 2) p += 2
  const r = inflateRawSync(gz.subarray(p), { info: true }) as unknown as { engine: { bytesWritten: number } }
  return gz.subarray(p, p + r.engine.bytesWritten)
}

/** text, text with a binary stretch (stored blocks at gzip -9), and a long run */
const text = changelog(6000, 1)
const inputs: Array<[string, Buffer]> = [
  ['text', text],
  ['mixed', Buffer.concat([text.subarray(0, 50_000), randomBytes(100_000, 2), text.subarray(50_000, 120_000)])],
  ['zeros', Buffer.alloc(300_000)],
  ['tiny', Buffer.from('a')],
]

t.test('GNU gzip -9n, -1 and default streams round-trip bit for bit', async (t) => {
  for (const [name, raw] of inputs) {
    for (const flag of ['-9n', '-1n', '-n']) {
      const d = gzipBody(execFileSync('gzip', [flag, '-c'], { input: raw, maxBuffer: 1 << 26 }))
      t.ok(roundTrips(d), `gzip ${flag} ${name} (${d.length} B)`)
    }
  }
})

t.test("vanilla zlib (python3's) at every level round-trips", async (t) => {
  const script = 'import sys,zlib\nd=sys.stdin.buffer.read()\nfor l in range(10):\n  for s in (0,1,2,3,4):\n    c=zlib.compressobj(l,zlib.DEFLATED,-15,8,s)\n    b=c.compress(d)+c.flush()\n    sys.stdout.buffer.write(len(b).to_bytes(4,"little")+b)\n'
  const out = execFileSync('python3', ['-c', script], { input: inputs[1]![1], maxBuffer: 1 << 26 })
  let n = 0
  for (let at = 0; at < out.length; ) {
    const len = out.readUInt32LE(at)
    const d = out.subarray(at + 4, at + 4 + len)
    at += 4 + len
    t.ok(roundTrips(d), `python zlib stream ${n++} (${len} B)`)
  }
  t.equal(n, 50)
})

t.test("node:zlib at every level and strategy (Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE, stored), and empty input", async (t) => {
  const strategies = [constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED]
  for (const [name, raw] of inputs.slice(0, 3)) {
    for (let level = 0; level <= 9; level++) for (const strategy of strategies) t.ok(roundTrips(deflateRawSync(raw, { level, strategy })), `${name} level ${level} strategy ${strategy}`)
  }
  const empty = deflateRawSync(Buffer.alloc(0))
  const p = puff(empty, 64)
  t.ok(huff(p, empty.length).equals(empty), `empty stream (${empty.length} B, puff ${p.length} B)`)
  // a sync flush leaves an empty stored block in the middle of the stream
  const flushed = Buffer.concat([deflateRawSync(text.subarray(0, 1000), { finishFlush: constants.Z_SYNC_FLUSH }), deflateRawSync(Buffer.alloc(0))])
  t.ok(roundTrips(flushed), 'an empty stored block (sync flush), then a final block')
})

t.test('padding bits are kept as they are: trailing garbage bits in the last byte', async (t) => {
  const d = Buffer.from(deflateRawSync(text.subarray(0, 5000), { level: 9 }))
  // find how many bits of the last byte the stream uses: set the others and check inflate still takes it
  let set = 0
  for (let bit = 7; bit >= 0; bit--) {
    const x = Buffer.from(d)
    x[x.length - 1]! |= 1 << bit
    try {
      if (inflateRawSync(x).equals(text.subarray(0, 5000)) && roundTrips(x)) set++
      else break
    } catch {
      break
    }
  }
  t.ok(set > 0, `${set} garbage padding bits round-trip`)
  const stored = Buffer.from(deflateRawSync(randomBytes(1000, 3), { level: 0 }))
  t.ok(roundTrips(stored), 'stored blocks')
})

t.test("the system's Debian .gz files (GNU gzip -9n) round-trip", async (t) => {
  // /usr/share/doc always has them on Debian; the dev OS pair's own are used when present
  const roots = ['/tmp/slipway-bench/os/root-new/usr/share/doc', '/usr/share/doc'].filter(existsSync)
  const files: string[] = []
  for (const root of roots) for (const d of readdirSync(root)) if (existsSync(`${root}/${d}/changelog.Debian.gz`)) files.push(`${root}/${d}/changelog.Debian.gz`)
  t.ok(files.length >= 20, `${files.length} changelog.Debian.gz found`)
  let bytes = 0
  const bad: string[] = []
  const started = performance.now()
  for (const f of files.slice(0, 400)) {
    const d = gzipBody(readFileSync(f))
    bytes += d.length
    if (!roundTrips(d)) bad.push(f)
  }
  t.same(bad, [], `${Math.min(400, files.length)} files, ${bytes} B of deflate, ${(bytes / 1e3 / (performance.now() - started)).toFixed(1)} MB/s puff+huff`)
})

/** LSB-first bit writer for hand-made deflate streams; Huffman codes go MSB first (RFC 1951 3.1.1). */
class Bits {
  bytes: number[] = []
  n = 0
  put(v: number, len: number) {
    for (let i = 0; i < len; i++) this.bit((v >> i) & 1)
  }
  code(c: number, len: number) {
    for (let i = len - 1; i >= 0; i--) this.bit((c >> i) & 1)
  }
  bit(b: number) {
    if (this.n % 8 === 0) this.bytes.push(0)
    this.bytes[this.bytes.length - 1]! |= b << this.n % 8
    this.n++
  }
  get buf() {
    return Buffer.from(this.bytes)
  }
}

t.test('invalid deflate is DELTA_CORRUPT: truncation, block type 3, bad codes, distance too far back, trailing bytes', async (t) => {
  const d = deflateRawSync(text, { level: 9 })
  for (const at of [0, 1, 2, 10, 100, d.length >> 1, d.length - 1]) t.equal(code(() => puff(d.subarray(0, at), cap(d))), 'DELTA_CORRUPT', `cut at ${at}`)
  const stored = deflateRawSync(randomBytes(3000, 4), { level: 0 })
  t.equal(code(() => puff(stored.subarray(0, 100), 10_000)), 'DELTA_CORRUPT', 'stored block cut')
  const nlen = Buffer.from(stored)
  nlen[3]! ^= 1
  t.equal(code(() => puff(nlen, 10_000)), 'DELTA_CORRUPT', 'stored block NLEN not the complement of LEN')

  const type3 = new Bits()
  type3.put(1, 1)
  type3.put(3, 2)
  t.equal(code(() => puff(type3.buf, 100)), 'DELTA_CORRUPT', 'block type 3')

  // a dynamic header whose code-length code gives all 19 symbols 1-bit codes: over-subscribed
  const over = new Bits()
  over.put(1, 1)
  over.put(2, 2)
  over.put(0, 5)
  over.put(0, 5)
  over.put(15, 4)
  for (let i = 0; i < 19; i++) over.put(1, 3)
  t.throws(() => puff(over.buf, 100), { code: 'DELTA_CORRUPT', message: /over-subscribed/ })
  t.throws(() => inflateRawSync(over.buf), { code: 'Z_DATA_ERROR' }, 'zlib refuses it too')
  // incomplete code-length code: only symbol 0 has a (1-bit) code
  const incomplete = new Bits()
  incomplete.put(1, 1)
  incomplete.put(2, 2)
  incomplete.put(0, 5)
  incomplete.put(0, 5)
  incomplete.put(0, 4)
  for (const l of [0, 0, 0, 1]) incomplete.put(l, 3)
  t.throws(() => puff(incomplete.buf, 100), { code: 'DELTA_CORRUPT', message: /incomplete/ })

  // fixed block: a match of length 3 at distance 1 before any byte was written
  const far = new Bits()
  far.put(1, 1)
  far.put(1, 2)
  far.code(1, 7) // symbol 257: length 3
  far.code(0, 5) // distance symbol 0: distance 1
  far.code(0, 7) // end of block
  t.throws(() => puff(far.buf, 100), { code: 'DELTA_CORRUPT', message: /too far back/ })
  t.throws(() => inflateRawSync(far.buf), { code: 'Z_DATA_ERROR' }, 'zlib refuses it too')
  // fixed block: distance symbol 30 does not exist
  const d30 = new Bits()
  d30.put(1, 1)
  d30.put(1, 2)
  d30.code(0x30 + 0x61, 8) // literal 'a'
  d30.code(1, 7)
  d30.code(30, 5)
  d30.code(0, 7)
  t.throws(() => puff(d30.buf, 100), { code: 'DELTA_CORRUPT', message: /distance symbol/ })

  t.throws(() => puff(Buffer.concat([d, Buffer.from([0])]), cap(d)), { code: 'DELTA_CORRUPT', message: /after the final block/ })
})

t.test('a stream that puffs to more than the declared size is a codec bomb: DELTA_CORRUPT', async (t) => {
  const bomb = deflateRawSync(Buffer.alloc(4 << 20), { level: 9 }) // ~4 KB that puffs to ~50 KB of matches
  const p = puff(bomb, 1 << 20)
  t.throws(() => puff(bomb, p.length - 1), { code: 'DELTA_CORRUPT', message: /codec bomb/ })
  t.throws(() => inflateMember(bomb, p.length - 1, 'source', MemberCodec.PUFF), { code: 'DELTA_CORRUPT', message: /codec bomb/ })
  t.throws(() => inflateMember(bomb, p.length + 1, 'source', MemberCodec.PUFF), { code: 'DELTA_CORRUPT', message: /not the declared/ })
  t.ok(inflateMember(bomb, p.length, 'source', MemberCodec.PUFF).equals(p))
})

t.test('malformed puffs are refused with their code', async (t) => {
  const d = deflateRawSync(text.subarray(0, 20_000), { level: 9 })
  const p = puff(d, cap(d))
  t.equal(p[0], 5, 'one final dynamic block')
  const edit = (f: (x: Buffer) => Buffer | void) => {
    const x = Buffer.from(p)
    return f(x) ?? x
  }
  t.throws(() => huff(p.subarray(0, p.length - 5), d.length), { code: 'DELTA_CORRUPT', message: /ends inside/ }, 'truncated puff')
  t.throws(() => huff(p.subarray(0, 3), d.length), { code: 'DELTA_CORRUPT' }, 'puff cut in the header')
  t.throws(() => huff(Buffer.from([7]), 100), { code: 'DELTA_CORRUPT', message: /block header/ }, 'block type 3')
  t.throws(() => huff(edit((x) => void (x[1] = 30)), d.length), { code: 'DELTA_CORRUPT', message: /out of range/ }, 'HLIT out of range')
  t.throws(() => huff(Buffer.concat([p, Buffer.from([0])]), d.length), { code: 'DELTA_CORRUPT', message: /after the final block/ }, 'trailing puff bytes')
  t.throws(() => huff(edit((x) => void (x[x.length - 1] = 0xff)), d.length), { code: 'DELTA_CORRUPT', message: /padding/ }, 'padding wider than its bits')
  t.throws(() => huff(p, d.length - 1), { code: 'DELTA_MEMBER_MISMATCH' }, 'output over the recorded length')
  // the first token: a literal run; a byte the text never has gets no code in this block
  const hdrEnd = findTokens(p)
  t.ok(p[hdrEnd]! > 0 && p[hdrEnd]! < 0x7f, `tokens start with a literal run (tag ${p[hdrEnd]})`)
  t.throws(() => huff(edit((x) => void (x[hdrEnd + 1] = 0xff)), d.length), { code: 'DELTA_CORRUPT', message: /literal without a code/ })
  // a match before any literal reaches before the start
  t.throws(() => huff(edit((x) => void x.set([0x80, 0, 0], hdrEnd)), d.length), { code: 'DELTA_CORRUPT', message: /before the start/ })
  // stored block padding that does not fit the bits before the byte boundary
  const s = puff(deflateRawSync(randomBytes(100, 5), { level: 0 }), 1000)
  t.equal(s[0], 1, 'a final stored block')
  t.throws(() => huff(Buffer.from([1, 0xff, ...s.subarray(2)]), 1000), { code: 'DELTA_CORRUPT', message: /padding/ })
})

/** where a dynamic block's tokens start in a one-block puff: after its header and code-length symbols */
function findTokens(p: Buffer): number {
  const hlit = p[1]!
  const hdist = p[2]!
  const hclen = p[3]!
  let i = 4 + hclen + 4
  const total = hlit + 257 + hdist + 1
  for (let k = 0; k < total; ) {
    const sym = p[i++]!
    if (sym < 16) k++
    else {
      const x = p[i++]!
      k += sym === 16 ? 3 + x : sym === 17 ? 3 + x : 11 + x
    }
  }
  return i
}

t.test('mutated deflate and mutated puffs fail only with DeltaErrors (or round-trip)', async (t) => {
  const d = deflateRawSync(text.subarray(0, 30_000), { level: 6 })
  const p = puff(d, cap(d))
  const r = randomBytes(4000, 7)
  const seen = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    const x = Buffer.from(i % 2 ? p : d)
    const at = (r.readUInt16LE(i * 4 % 3990) * 7919 + i) % x.length
    x[at] = r[i]! ^ (x[at]! === r[i] ? 0xff : 0)
    const c = code(() => (i % 2 ? huff(x, d.length + 100) : puff(x, cap(d))))
    seen.set(c, (seen.get(c) ?? 0) + 1)
  }
  for (const c of seen.keys()) t.match(c, /^(no error|DELTA_CORRUPT|DELTA_MEMBER_MISMATCH)$/, `outcome ${c}`)
  t.ok(seen.get('DELTA_CORRUPT')! > 100, JSON.stringify(Object.fromEntries(seen)))
})

t.test('a puff of exactly the declared size is taken, for every stream shape (reservations never refuse it)', async (t) => {
  const streams = [
    deflateRawSync(text, { level: 9 }),
    deflateRawSync(text, { strategy: constants.Z_HUFFMAN_ONLY }), // one long literal run at the end of each block
    deflateRawSync(randomBytes(5000, 8), { level: 0 }),
    deflateRawSync(Buffer.alloc(0)),
  ]
  for (const d of streams) {
    const p = puff(d, cap(d))
    t.ok(puff(d, p.length).equals(p), `${d.length} B → puff ${p.length} B at a cap of exactly its length`)
    t.throws(() => puff(d, p.length - 1), { code: 'DELTA_CORRUPT', message: /codec bomb/ })
  }
})

t.test('codec 2 descriptors: parameters are 0, anything else is refused; huffing checks length and sha256', async (t) => {
  const base = { codec: MemberCodec.PUFF, level: 0, windowBits: 0, memLevel: 0, strategy: 0, sourceRawLength: 10, targetRawLength: 20 }
  t.same(decodeDescriptor(encodeDescriptor(base)), base)
  for (const field of ['level', 'windowBits', 'memLevel', 'strategy'] as const) {
    t.throws(() => decodeDescriptor(encodeDescriptor({ ...base, [field]: 1 })), { code: 'DELTA_CORRUPT', message: /invalid member descriptor/ }, `${field} ≠ 0`)
  }
  t.equal(decodeDescriptor(encodeDescriptor({ ...base, codec: 3 })).codec, MemberCodec.SPOOL, 'codec 3 (spool) takes the same descriptor')
  t.throws(() => decodeDescriptor(encodeDescriptor({ ...base, codec: 3, level: 9 })), { code: 'DELTA_CORRUPT' }, 'codec 3 has no parameters either')
  t.throws(() => decodeDescriptor(encodeDescriptor({ ...base, codec: 4 })), { code: 'DELTA_UNSUPPORTED' }, 'codec 4')
  const d = deflateRawSync(text.subarray(0, 3000))
  const p = puff(d, cap(d))
  const { createHash } = await import('node:crypto')
  const sha = createHash('sha256').update(d).digest()
  t.ok(recompressMember(base, p, d.length, sha).equals(d))
  const flipped = Buffer.from(sha)
  flipped[0]! ^= 1
  t.throws(() => recompressMember(base, p, d.length, flipped), { code: 'DELTA_MEMBER_MISMATCH' }, 'wrong sha256')
  t.throws(() => recompressMember(base, p, d.length + 1, sha), { code: 'DELTA_MEMBER_MISMATCH' }, 'wrong length')
})

import t from 'tap'
import { brotliCompressSync } from 'node:zlib'
import { BrotliReader } from '../../client-sdk/src/delta/brotli-reader.js'
import { randomBytes } from './delta-fixtures.js'

const drain = (r: BrotliReader, piece: number) => {
  const parts: Buffer[] = []
  for (let b = r.read(piece); b.length > 0; b = r.read(piece)) parts.push(Buffer.from(b))
  return Buffer.concat(parts)
}

t.test('decodes stream after stream through one small output buffer, in pieces of any size', async (t) => {
  const r = new BrotliReader(Buffer.allocUnsafe(4096))
  for (const [n, piece] of [
    [100_000, 7],
    [0, 10],
    [4096, 4096],
    [300_000, 70_000],
  ] as const) {
    const data = Buffer.concat([randomBytes(n >> 1, n + 1), Buffer.alloc(n - (n >> 1), 3)])
    r.begin(brotliCompressSync(data), n, `s${n}`)
    t.same(drain(r, piece), data, `${n} bytes in ${piece}-byte pieces`)
    r.expectEnd()
  }
  r.close()
})

t.test('truncated, damaged, padded and oversized streams are DELTA_CORRUPT, and the reader works on afterwards', async (t) => {
  const data = randomBytes(50_000, 9)
  const good = brotliCompressSync(data)
  const r = new BrotliReader(Buffer.allocUnsafe(8192))
  const cases: Array<[string, Buffer, number]> = [
    ['truncated', good.subarray(0, good.length - 10), data.length],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2, 3])]), data.length],
    ['decodes to more than allowed (a bomb)', brotliCompressSync(Buffer.alloc(10 << 20)), 1 << 20],
    ['not brotli', randomBytes(1000, 3), data.length],
  ]
  for (const [what, input, max] of cases) {
    t.throws(
      () => {
        r.begin(input, max, what)
        drain(r, 1 << 16)
        r.expectEnd()
      },
      { code: 'DELTA_CORRUPT' },
      what,
    )
    r.begin(good, data.length, 'good')
    t.same(drain(r, 1 << 16), data, `decodes again after: ${what}`)
  }
  r.close()
})

t.test('a stream whose window is over 4 MiB is refused before decoding (DELTA_SIZE_LIMIT); 1 to 4 MiB windows decode', async (t) => {
  const { constants } = await import('node:zlib')
  const { MAX_WINDOW_BITS, windowBits } = await import('../../client-sdk/src/delta/brotli-reader.js')
  const data = Buffer.concat([randomBytes(20_000, 4), Buffer.alloc(30_000, 1)])
  const r = new BrotliReader(Buffer.allocUnsafe(8192))
  for (let lgwin = 10; lgwin <= 24; lgwin++) {
    const stream = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_LGWIN]: lgwin } })
    t.equal(windowBits(stream[0]!), lgwin, `lgwin ${lgwin} read from the first byte`)
    if (lgwin <= MAX_WINDOW_BITS) {
      r.begin(stream, data.length, 'diff')
      t.same(drain(r, 5000), data, `lgwin ${lgwin} decodes`)
      continue
    }
    t.throws(() => r.begin(stream, data.length, 'diff'), { code: 'DELTA_SIZE_LIMIT', details: { stream: 'diff', windowBits: lgwin, limit: 22 } }, `lgwin ${lgwin} refused`)
  }
  r.begin(brotliCompressSync(data), data.length, 'extra')
  t.same(drain(r, 5000), data, 'and the reader works on after a refusal')
  r.close()
})

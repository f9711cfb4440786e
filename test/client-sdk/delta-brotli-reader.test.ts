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

import t from 'tap'
import { ByteAdder } from '../../client-sdk/src/delta/byte-add.js'
import { randomBytes } from './delta-fixtures.js'

/** bspatch's definition: each byte of d added to dst, mod 256 */
function plainAdd(dst: Buffer, d: Buffer): Buffer {
  const out = Buffer.from(dst)
  for (let i = 0; i < d.length; i++) out[i] = (out[i]! + d[i]!) & 0xff
  return out
}

t.test('the SIMD add gives the plain loop’s bytes at any offset and length, and touches nothing past d', async (t) => {
  const adder = new ByteAdder(1 << 20, 256 * 1024)
  t.equal(adder.scratch.length, 1 << 20)
  t.equal(adder.piece.length, 256 * 1024)
  // offsets not multiples of 16 and lengths with a tail exercise both the wasm loop and the byte tail
  const cases: Array<[number, number, number]> = [[0, 0, 0], [0, 0, 15], [0, 0, 16], [3, 7, 33], [17, 1, 4096 + 5], [1000, 999, 200_000], [(1 << 20) - 64, 0, 64]]
  for (const [at, dAt, len] of cases) {
    adder.scratch.set(randomBytes(adder.scratch.length, at + 1))
    adder.piece.set(randomBytes(adder.piece.length, len + 2))
    const dst = adder.scratch.subarray(at)
    const d = adder.piece.subarray(dAt, dAt + len)
    const want = plainAdd(dst.subarray(0, Math.max(len, Math.min(dst.length, len + 32))), d)
    const before = Buffer.from(adder.scratch)
    adder.add(dst, d)
    t.same(dst.subarray(0, want.length), want, `offset ${at}, diff offset ${dAt}, ${len} bytes`)
    t.same(adder.scratch.subarray(0, at), before.subarray(0, at), 'bytes before dst unchanged')
  }
})

t.test('buffers outside its memory take the plain loop with the same result', async (t) => {
  const adder = new ByteAdder(4096, 4096)
  const dst = randomBytes(1000, 5)
  const d = randomBytes(777, 6)
  const want = plainAdd(dst, d)
  adder.add(dst, d)
  t.same(dst, want)
  // one inside, one outside: still the plain loop
  adder.scratch.set(randomBytes(4096, 7))
  const inside = adder.scratch.subarray(10, 1010)
  const want2 = plainAdd(inside, d)
  adder.add(inside, d)
  t.same(inside, want2)
})

t.test('sizes its memory cannot hold fall back to plain buffers', async (t) => {
  const adder = new ByteAdder(2 << 20, 1024)
  t.equal(adder.scratch.length, 2 << 20)
  const d = randomBytes(100, 9)
  const dst = adder.scratch.subarray(0, 100)
  dst.fill(1)
  adder.add(dst, d)
  t.same(dst, plainAdd(Buffer.alloc(100, 1), d))
})

import t from 'tap'
import { bsdiffSearch } from '../../server/delta/bsdiff-search.js'
import { SortScratch, suffixArray } from '../../server/delta/suffix-array.js'
import { randomBytes } from '../client-sdk/delta-fixtures.js'

/** every suffix, compared byte by byte: the definition the fast sort must meet */
function naiveSuffixArray(s: Uint8Array): number[] {
  const idx = Array.from({ length: s.length }, (_, i) => i)
  return idx.sort((a, b) => Buffer.compare(s.subarray(a), s.subarray(b)))
}

/** what a device does with the streams: diff bytes added to the source, extra bytes copied */
function rebuild(old: Uint8Array, streams: ReturnType<typeof bsdiffSearch>): Buffer {
  const out: number[] = []
  let oldpos = 0
  let d = 0
  let e = 0
  for (const [x, y, z] of streams.control) {
    for (let i = 0; i < x; i++) out.push((old[oldpos + i]! + streams.diff[d + i]!) & 0xff)
    for (let i = 0; i < y; i++) out.push(streams.extra[e + i]!)
    d += x
    e += y
    oldpos += x + z
  }
  return Buffer.from(out)
}

/** a small-alphabet text with repeats: many equal LMS substrings, so the sort recurses */
function repetitive(n: number, seed: number, alphabet: number): Buffer {
  const r = randomBytes(n, seed)
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = i > 64 && r[i]! < 200 ? b[i - 1 - (r[i - 1]! % 64)]! : r[i]! % alphabet
  return b
}

const inputs: Array<[string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from([7])],
  ['two equal bytes', Buffer.from([1, 1])],
  ['all equal (31, naive path)', Buffer.alloc(31, 0x41)],
  ['all equal (5000)', Buffer.alloc(5000, 0x41)],
  ['all zero (4096)', Buffer.alloc(4096)],
  ['abab…', Buffer.from('ab'.repeat(1000))],
  ['mississippi ×50', Buffer.from('mississippi'.repeat(50))],
  ['descending', Buffer.from(Array.from({ length: 3000 }, (_, i) => 255 - (i % 256)))],
  ['random 20 000', randomBytes(20_000, 1)],
  ['random small alphabet', repetitive(20_000, 2, 2)],
  ['repetitive 4 letters', repetitive(30_000, 3, 4)],
  ['repetitive bytes', repetitive(30_000, 4, 256)],
]

t.test('SA-IS equals a naive sort of the suffixes', async (t) => {
  const scratch = new SortScratch()
  for (const [name, s] of inputs) {
    t.same(Array.from(suffixArray(s, scratch)), naiveSuffixArray(s), name)
  }
  // a reused scratch and a larger output array give the same answer as fresh ones
  const s = repetitive(10_000, 5, 3)
  t.same(Array.from(suffixArray(s, scratch, new Int32Array(50_000))), Array.from(suffixArray(s)), 'scratch and output reuse')
  for (let seed = 10; seed < 40; seed++) {
    const len = 1 + ((seed * 7919) % 3000)
    const r = seed % 2 ? randomBytes(len, seed) : repetitive(len, seed, 1 + (seed % 5))
    t.same(Array.from(suffixArray(r, scratch)), naiveSuffixArray(r), `seed ${seed}, ${len} bytes`)
  }
})

t.test('bsdiff search: its streams rebuild the target exactly', async (t) => {
  const old = repetitive(200_000, 6, 256)
  // edits bsdiff is made for: scattered byte changes, inserts, a deletion, new data
  const edited = Buffer.from(old)
  for (let i = 0; i < edited.length; i += 997) edited[i] = edited[i]! ^ 0x5a
  const cases: Array<[string, Buffer, Buffer]> = [
    ['identical', old, old],
    ['in-place edits', old, edited],
    ['inserts and a deletion', old, Buffer.concat([old.subarray(0, 50_000), Buffer.from('inserted'), old.subarray(50_000, 120_000), old.subarray(121_000), randomBytes(3000, 7)])],
    ['moved halves', old, Buffer.concat([old.subarray(100_000), old.subarray(0, 100_000)])],
    ['unrelated', old, randomBytes(30_000, 8)],
    ['empty target', old, Buffer.alloc(0)],
    ['empty source', Buffer.alloc(0), randomBytes(1000, 9)],
    ['one-byte source', Buffer.from([3]), Buffer.from([3, 3, 3, 4])],
    ['all-equal', Buffer.alloc(10_000), Buffer.alloc(12_000)],
  ]
  for (const [name, o, n] of cases) {
    const streams = bsdiffSearch(o, suffixArray(o), n)
    t.ok(rebuild(o, streams).equals(n), `${name}: rebuilt`)
    if (name === 'in-place edits' || name === 'moved halves') {
      t.ok(streams.extra.length < n.length / 100, `${name}: almost nothing literal (${streams.extra.length} extra bytes)`)
    }
  }
})

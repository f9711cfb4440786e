/** RFC 7233 single byte ranges, at the function: every branch of parseRange with its code. */
import t from 'tap'
import { parseRange } from '../../server/http/range.js'

t.test('ranges that are served', async (t) => {
  t.equal(parseRange(undefined, 1000), undefined, 'no header: the whole body')
  t.equal(parseRange('items=0-5', 1000), undefined, 'another unit is ignored (§3.1)')
  t.same(parseRange('bytes=0-99', 1000), { start: 0, end: 99 })
  t.same(parseRange('bytes=990-', 1000), { start: 990, end: 999 }, 'open end')
  t.same(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 }, 'an end past the blob is cut to the blob')
  t.same(parseRange('bytes=999-999', 1000), { start: 999, end: 999 }, 'the last byte')
  t.same(parseRange('bytes=-100', 1000), { start: 900, end: 999 }, 'suffix: the last 100 bytes (§2.1)')
  t.same(parseRange('bytes=-1000', 1000), { start: 0, end: 999 }, 'a suffix as long as the blob is all of it')
  t.same(parseRange('bytes=-5000', 1000), { start: 0, end: 999 }, 'a suffix longer than the blob is all of it, never a negative start')
  t.same(parseRange(' BYTES = 5-9 ', 1000), { start: 5, end: 9 }, 'unit is case-insensitive, spaces are trimmed')
})

t.test('ranges that are refused, each with its code', async (t) => {
  const code = (h: string, size = 1000) => {
    try {
      parseRange(h, size)
      return 'served'
    } catch (e) {
      return (e as { code: string }).code
    }
  }
  t.equal(code('bytes'), 'RANGE_MALFORMED', 'no =')
  t.equal(code('bytes=-'), 'RANGE_MALFORMED', 'neither end')
  t.equal(code('bytes=a-b'), 'RANGE_MALFORMED')
  t.equal(code('bytes=10-5'), 'RANGE_MALFORMED', 'end before start')
  t.equal(code('bytes=0-1,5-6'), 'RANGE_MULTIPLE')
  t.equal(code('bytes=1000-'), 'RANGE_NOT_SATISFIABLE', 'starts at the end')
  t.equal(code('bytes=5000-6000'), 'RANGE_NOT_SATISFIABLE', 'starts past the end')
  t.equal(code('bytes=-0'), 'RANGE_NOT_SATISFIABLE', 'empty suffix')
  t.equal(code('bytes=-5', 0), 'RANGE_NOT_SATISFIABLE', 'any suffix of an empty blob')
  t.equal(code('bytes=0-0', 0), 'RANGE_NOT_SATISFIABLE', 'any range of an empty blob')
})

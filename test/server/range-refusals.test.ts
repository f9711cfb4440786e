/**
 * What a refused Range carries besides its code: a message a person can act on, and the
 * blob size that becomes `Content-Range: bytes *\/SIZE` on a 416 (RFC 7233 §4.2). Also the
 * edges of the grammar that range.test.ts leaves open. Written for the mutants Stryker
 * found surviving in server/http/range.ts (npm run mutate -- --area http).
 */
import t from 'tap'
import { parseRange } from '../../server/http/range.js'

const refusal = (header: string, size = 1000) => {
  try {
    return { served: parseRange(header, size) }
  } catch (e) {
    return e as { code: string; message: string; details?: { size?: number } }
  }
}

t.test('every refusal says why and carries the blob size', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['bytes', 'RANGE_MALFORMED', /bytes=START-END/],
    ['bytes=0-1,5-9', 'RANGE_MULTIPLE', /only one range/],
    ['bytes=-', 'RANGE_MALFORMED', /bytes=START-END/],
    ['bytes=-0', 'RANGE_NOT_SATISFIABLE', /empty suffix range/],
    ['bytes=10-5', 'RANGE_MALFORMED', /end is before its start/],
    ['bytes=1000-', 'RANGE_NOT_SATISFIABLE', /starts at or past the end \(1000 bytes\)/],
  ]
  for (const [header, code, message] of cases) {
    t.match(refusal(header), { code, message, details: { size: 1000 } }, header)
  }
})

t.test('junk around the numbers is malformed, not a range', async (t) => {
  t.match(refusal('bytes=x5-9'), { code: 'RANGE_MALFORMED' }, 'before the start')
  t.match(refusal('bytes=5-9x'), { code: 'RANGE_MALFORMED' }, 'after the end')
})

t.test('a header with an empty unit is another unit, so ignored (§3.1)', async (t) => {
  t.same(refusal('=0-5'), { served: undefined })
})

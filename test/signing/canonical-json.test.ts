import t from 'tap'
import { canonicalize, canonicalWire, canonicalBytes, isCanonical, parseCanonical } from '../../signing/canonical-json.js'
import { TrustError } from '../../signing/errors.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (e) {
    return e instanceof TrustError ? e.code : 'not-a-TrustError'
  }
  return undefined
}

t.test('OLPC canonical form: sorted keys, no whitespace, only " and \\ escaped', async (t) => {
  t.equal(canonicalize({ b: 1, a: [true, null, 'x'], c: { z: 'q"\\', y: -3 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":-3,"z":"q\\"\\\\"}}')
  t.equal(canonicalize({ é: 'ü', e: '€' }), '{"e":"€","é":"ü"}', 'non-ASCII written raw, not \\u-escaped')
  t.equal(canonicalize({ a: undefined, b: 2 }), '{"b":2}', 'absent optional fields are dropped')
  t.same(canonicalBytes('€'), Buffer.from('"€"', 'utf8'))
})

t.test('signed form keeps control characters raw (OLPC); wire form escapes them (valid JSON)', async (t) => {
  t.equal(canonicalize({ pem: 'a\nb' }), '{"pem":"a\nb"}', 'same JS string: a raw newline')
  t.equal(canonicalize({ pem: 'a\nb' }).length, 13, 'raw newline: one byte')
  t.equal(canonicalWire({ pem: 'a\nb' }), '{"pem":"a\\nb"}')
  t.same(parseCanonical(Buffer.from(canonicalWire({ pem: 'a\nb\u0001' })), 100), { pem: 'a\nb\u0001' })
})

t.test('matches @tufjs/canonical-json on what both accept', async (t) => {
  const { canonicalize: theirs } = (await import('@tufjs/canonical-json')) as { canonicalize: (v: unknown) => string }
  const doc = { signed: { _type: 'root', keys: { b: { x: 'a"b' }, a: [1, 2] }, version: 3 }, signatures: [] }
  t.equal(canonicalize(doc), theirs(doc))
})

t.test('values without one canonical form are refused', async (t) => {
  t.equal(code(() => canonicalize({ v: 1.5 })), 'DOC_NOT_CANONICAL', 'float')
  t.equal(code(() => canonicalize({ v: 2 ** 60 })), 'DOC_NOT_CANONICAL', 'unsafe integer')
  t.equal(code(() => canonicalize({ v: -0 })), 'DOC_NOT_CANONICAL', '-0')
  t.equal(code(() => canonicalize({ v: '\ud800' })), 'DOC_NOT_CANONICAL', 'lone surrogate')
  t.equal(code(() => canonicalize({ v: 1n })), 'DOC_NOT_CANONICAL', 'bigint')
  let deep: unknown = 1
  for (let i = 0; i < 100; i++) deep = [deep]
  t.equal(code(() => canonicalize(deep)), 'DOC_NOT_CANONICAL', 'nesting')
})

t.test('parseCanonical accepts exactly canonical bytes', async (t) => {
  const ok = canonicalBytes({ b: [1, 2], a: 'x' })
  t.same(parseCanonical(ok, 1000), { a: 'x', b: [1, 2] })
  t.ok(isCanonical(ok))
  const enc = (s: string) => Buffer.from(s, 'utf8')
  t.equal(code(() => parseCanonical(enc('{"a": "x"}'), 1000)), 'DOC_NOT_CANONICAL', 'whitespace')
  t.equal(code(() => parseCanonical(enc('{"b":1,"a":2}'), 1000)), 'DOC_NOT_CANONICAL', 'unsorted keys')
  t.equal(code(() => parseCanonical(enc('{"a":1,"a":2}'), 1000)), 'DOC_NOT_CANONICAL', 'duplicate key (parser differential)')
  t.equal(code(() => parseCanonical(enc('{"a":"\\u0041"}'), 1000)), 'DOC_NOT_CANONICAL', 'needless escape')
  t.equal(code(() => parseCanonical(enc('{"a":1.0}'), 1000)), 'DOC_NOT_CANONICAL', 'float spelling')
  t.equal(code(() => parseCanonical(enc('{"a":1e2}'), 1000)), 'DOC_NOT_CANONICAL', 'exponent')
  t.equal(code(() => parseCanonical(enc('{"a":'), 1000)), 'DOC_MALFORMED', 'truncated')
  t.equal(code(() => parseCanonical(Buffer.from([0x22, 0xff, 0x22]), 1000)), 'DOC_MALFORMED', 'invalid UTF-8')
  t.equal(code(() => parseCanonical(enc('"' + 'x'.repeat(2000) + '"'), 1000)), 'DOC_TOO_LARGE', 'size cap before parsing')
  t.notOk(isCanonical(enc('[1, 2]')))
})

/**
 * The edges of canonical JSON (signing/canonical-json.ts) that the mutants Stryker
 * found surviving there showed untested (npm run mutate -- --area verify): surrogate
 * pairs, code units above the surrogate range, the exact depth and size limits, a BOM,
 * and what each refusal says besides its code.
 */
import t from 'tap'
import { canonicalBytes, canonicalize, canonicalWire, isCanonical, parseCanonical } from '../../signing/canonical-json.js'
import { TrustError } from '../../signing/errors.js'

const refusal = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof TrustError)) return { code: 'not-a-TrustError', message: String(e) }
    return { code: e.code, message: e.message, details: e.details, cause: e.cause }
  }
  return { code: 'accepted' }
}
const enc = (s: string) => Buffer.from(s, 'utf8')

t.test('a surrogate pair is one character: written raw, accepted back', async (t) => {
  t.equal(canonicalize({ e: '😀' }), '{"e":"😀"}', 'pair alone')
  t.equal(canonicalize({ e: 'a😀b' }), '{"e":"a😀b"}', 'pair between other characters')
  t.equal(canonicalize({ e: '😀😀' }), '{"e":"😀😀"}', 'two pairs in a row')
  t.equal(canonicalize({ e: '😀"' }), '{"e":"😀\\""}', 'the escape after a pair still lands')
  t.equal(canonicalWire({ e: 'x😀' }), '{"e":"x😀"}')
  t.same(canonicalBytes('😀'), Buffer.from([0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22]), 'four UTF-8 bytes')
  t.equal(canonicalize('\udbff\udfff'), '"\u{10ffff}"', 'U+10FFFF: the last high surrogate starts a pair too')
  t.same(parseCanonical(enc('{"e":"a😀b"}'), 100), { e: 'a😀b' })
  t.ok(isCanonical(enc('"😀"')))
})

t.test('code units past the surrogate range are ordinary characters', async (t) => {
  t.equal(canonicalize('\ue000'), '"\ue000"', 'U+E000, first after the surrogates')
  t.equal(canonicalize('\uffff'), '"\uffff"')
  t.equal(canonicalize('a\ufffdb'), '"a\ufffdb"', 'U+FFFD')
  t.equal(canonicalize('\ud7ff'), '"\ud7ff"', 'U+D7FF, last before the surrogates')
})

t.test('every lone surrogate is refused, wherever it stands', async (t) => {
  const lone = { code: 'DOC_NOT_CANONICAL', message: 'string contains a lone UTF-16 surrogate' }
  t.match(refusal(() => canonicalize('\ud800')), lone, 'high surrogate at the end')
  t.match(refusal(() => canonicalize('\udbff')), lone, 'last high surrogate at the end')
  t.match(refusal(() => canonicalize('\ud800x')), lone, 'high surrogate followed by a letter')
  t.match(refusal(() => canonicalize('\ud800\ud800')), lone, 'two high surrogates')
  t.match(refusal(() => canonicalize('\udc00')), lone, 'low surrogate alone')
  t.match(refusal(() => canonicalize('\udc00\udc00')), lone, 'two low surrogates: a low one never starts a pair')
  t.match(refusal(() => canonicalize('x\udfff')), lone, 'last low surrogate after a letter')
  t.match(refusal(() => canonicalize('\udc00\ud800')), lone, 'a pair in the wrong order')
  t.match(refusal(() => canonicalize('😀\udc00')), lone, 'a low surrogate after a good pair')
  t.match(refusal(() => canonicalWire({ k: 'a\udc00' })), lone, 'the wire form refuses it too')
  t.match(refusal(() => canonicalize({ ['\ud800']: 1 })), lone, 'in a key')
})

t.test('nesting: 32 levels are fine, 33 are refused, for arrays and objects alike', async (t) => {
  const arrays = (n: number) => {
    let v: unknown = 1
    for (let i = 0; i < n; i++) v = [v]
    return v
  }
  const objects = (n: number) => {
    let v: unknown = 1
    for (let i = 0; i < n; i++) v = { a: v }
    return v
  }
  t.equal(canonicalize(arrays(32)), '['.repeat(32) + '1' + ']'.repeat(32))
  t.equal(canonicalize(objects(32)), '{"a":'.repeat(32) + '1' + '}'.repeat(32))
  const deep = { code: 'DOC_NOT_CANONICAL', message: 'nesting deeper than 32' }
  t.match(refusal(() => canonicalize(arrays(33))), deep)
  t.match(refusal(() => canonicalize(objects(33))), deep)
  t.match(refusal(() => canonicalize(objects(200))), deep)
})

t.test('refusals of values say what the value is', async (t) => {
  t.match(refusal(() => canonicalize(1.5)), { code: 'DOC_NOT_CANONICAL', message: 'number 1.5 is not a safe integer' })
  t.match(refusal(() => canonicalize(-0)), { code: 'DOC_NOT_CANONICAL', message: 'number 0 is not a safe integer' })
  t.match(refusal(() => canonicalize({ v: 1n })), { code: 'DOC_NOT_CANONICAL', message: 'cannot encode a bigint in canonical JSON' })
  t.match(refusal(() => canonicalize(() => 1)), { code: 'DOC_NOT_CANONICAL', message: 'cannot encode a function in canonical JSON' })
  t.match(refusal(() => canonicalize(undefined)), { code: 'DOC_NOT_CANONICAL', message: 'cannot encode a undefined in canonical JSON' })
})

t.test('keys are visited exactly once each, whatever they are called', async (t) => {
  // "undefined" is what a read one past the last key would look up
  t.equal(canonicalize({ undefined: 1 }), '{"undefined":1}')
  t.equal(canonicalize({ undefined: 1, a: 2 }), '{"a":2,"undefined":1}')
  t.equal(canonicalize({}), '{}')
})

t.test('canonicalBytes is the signed form: control characters raw, not escaped', async (t) => {
  t.same(canonicalBytes({ pem: 'a\nb' }), Buffer.from('{"pem":"a\nb"}', 'utf8'))
  t.equal(canonicalBytes('\t').length, 3)
})

t.test('parseCanonical: the size cap is inclusive and says both numbers', async (t) => {
  const doc = enc('{"a":"xyz"}') // 11 bytes
  t.same(parseCanonical(doc, 11), { a: 'xyz' }, 'exactly at the cap')
  t.match(refusal(() => parseCanonical(doc, 10)), {
    code: 'DOC_TOO_LARGE',
    message: 'document is 11 bytes, cap is 10',
    details: { length: 11, maxBytes: 10 },
  })
})

t.test('parseCanonical: malformed input keeps its cause; non-canonical input says so', async (t) => {
  const truncated = refusal(() => parseCanonical(enc('{"a":'), 100))
  t.match(truncated, { code: 'DOC_MALFORMED', message: 'document is not UTF-8 JSON' })
  t.type(truncated.cause, SyntaxError, 'the parser error is the cause')
  const badUtf8 = refusal(() => parseCanonical(Buffer.from([0x22, 0xc3, 0x22]), 100))
  t.match(badUtf8, { code: 'DOC_MALFORMED', message: 'document is not UTF-8 JSON' })
  t.type(badUtf8.cause, TypeError, 'the decoder error is the cause')
  t.match(refusal(() => parseCanonical(enc('{"b":1,"a":1}'), 100)), {
    code: 'DOC_NOT_CANONICAL',
    message: 'document is not in canonical wire form',
  })
})

t.test('a byte-order mark is not part of canonical JSON: refused, not stripped', async (t) => {
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('{"a":1}')])
  t.equal(refusal(() => parseCanonical(bom, 100)).code, 'DOC_MALFORMED')
  t.notOk(isCanonical(bom))
})

/**
 * The verifier's small pure checks at their edges (signing/verify/options.ts,
 * expiry.ts, payload.ts, update-plan.ts): each option's default and each refusal with
 * the value it names; expiry at exactly `expires + grace`; a payload at exactly its
 * signed length and one byte over, in one chunk or several; every field of the
 * cross-document checks on its own. No keys or signatures: it runs in well under a
 * second, so `npm run mutate -- --area verify` runs it first.
 */
import t from 'tap'
import { TrustError } from '../../signing/errors.js'
import type { Assignment } from '../../signing/metadata/assignment.js'
import type { Delta } from '../../signing/metadata/delta.js'
import type { Release } from '../../signing/metadata/release.js'
import { checkExpiry } from '../../signing/verify/expiry.js'
import { checkCounterOption, checkedNow, resolveOptions } from '../../signing/verify/options.js'
import { PayloadVerifier, verifyPayload } from '../../signing/verify/payload.js'
import { checkSecurityVersion, checkUpdate } from '../../signing/verify/update-plan.js'
import { sha256 } from './fixtures.js'

/** What a call does: 'ok', or the refusal's code, message and details. */
function outcome(f: () => unknown): { code: string; message?: string; details?: unknown } {
  try {
    f()
    return { code: 'ok' }
  } catch (e) {
    if (!(e instanceof TrustError)) return { code: `not a TrustError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

async function outcomeAsync(f: () => Promise<unknown>) {
  try {
    await f()
    return { code: 'ok' }
  } catch (e) {
    if (!(e instanceof TrustError)) return { code: `not a TrustError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

const ok = { code: 'ok' }
const invalid = (option: string, want: string, got: string) => ({
  code: 'OPTIONS_INVALID',
  message: `verification option ${option} must be ${want}, got ${got}`,
  details: { option },
})

t.test('options: defaults', async (t) => {
  const before = Date.now()
  const o = resolveOptions()
  t.equal(o.maxBytes, 1024 * 1024, '1 MiB')
  t.equal(o.expiryGraceSeconds, 0)
  t.same(o.allowedKeyTypes, {})
  const now = o.now()
  t.ok(now instanceof Date && now.getTime() >= before && now.getTime() <= Date.now(), 'the clock is the real one')
  t.same(resolveOptions({}), { ...o, now: o.now }, 'an empty object is the same as none')
})

t.test('options: given values are kept', async (t) => {
  const at = new Date('2030-01-02T03:04:05Z')
  const types = { online: ['ecdsa'] as const }
  const o = resolveOptions({ maxBytes: 1, expiryGraceSeconds: 0.5, now: () => at, allowedKeyTypes: types })
  t.equal(o.maxBytes, 1, 'the smallest cap')
  t.equal(o.expiryGraceSeconds, 0.5, 'fractional seconds')
  t.equal(o.now(), at)
  t.equal(o.allowedKeyTypes, types)
  t.equal(resolveOptions({ maxBytes: Number.MAX_SAFE_INTEGER }).maxBytes, Number.MAX_SAFE_INTEGER)
  t.equal(resolveOptions({ expiryGraceSeconds: 0 }).expiryGraceSeconds, 0)
})

t.test('options: maxBytes must be a whole number >= 1', async (t) => {
  const want = 'a whole number of bytes >= 1'
  t.same(outcome(() => resolveOptions({ maxBytes: 0 })), invalid('maxBytes', want, '0'))
  t.same(outcome(() => resolveOptions({ maxBytes: -1 })), invalid('maxBytes', want, '-1'))
  t.same(outcome(() => resolveOptions({ maxBytes: 1.5 })), invalid('maxBytes', want, '1.5'))
  t.same(outcome(() => resolveOptions({ maxBytes: NaN })), invalid('maxBytes', want, 'NaN'))
  t.same(outcome(() => resolveOptions({ maxBytes: 2 ** 53 })), invalid('maxBytes', want, String(2 ** 53)))
  t.same(outcome(() => resolveOptions({ maxBytes: null as unknown as number })), invalid('maxBytes', want, 'null'), 'null is not "not given"')
  t.same(outcome(() => resolveOptions({ maxBytes: '100' as unknown as number })), invalid('maxBytes', want, '"100"'))
  t.same(outcome(() => resolveOptions({ maxBytes: true as unknown as number })), invalid('maxBytes', want, 'true'))
})

t.test('options: expiryGraceSeconds must be a finite number >= 0', async (t) => {
  const want = 'a finite number of seconds >= 0'
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: -1 })), invalid('expiryGraceSeconds', want, '-1'))
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: -0.001 })), invalid('expiryGraceSeconds', want, '-0.001'))
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: Infinity })), invalid('expiryGraceSeconds', want, 'Infinity'))
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: NaN })), invalid('expiryGraceSeconds', want, 'NaN'))
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: '60' as unknown as number })), invalid('expiryGraceSeconds', want, '"60"'))
  t.same(outcome(() => resolveOptions({ expiryGraceSeconds: null as unknown as number })), invalid('expiryGraceSeconds', want, 'null'))
})

t.test('options: now must be a function, and what it returns is checked at each call', async (t) => {
  t.same(outcome(() => resolveOptions({ now: new Date() as unknown as () => Date })), invalid('now', 'a function returning a Date', 'object'))
  t.same(outcome(() => resolveOptions({ now: null as unknown as () => Date })), invalid('now', 'a function returning a Date', 'null'))
  const long = 'x'.repeat(50)
  t.same(outcome(() => resolveOptions({ now: long as unknown as () => Date })), invalid('now', 'a function returning a Date', JSON.stringify('x'.repeat(40))), 'a string is quoted and cut at 40')
  let value: unknown = new Date('invalid')
  const o = resolveOptions({ now: () => value as Date })
  const want = 'a function returning a valid Date'
  t.same(outcome(() => o.now()), invalid('now', want, 'object'), 'an Invalid Date')
  value = undefined
  t.same(outcome(() => o.now()), invalid('now', want, 'undefined'))
  value = 1_900_000_000_000
  t.same(outcome(() => o.now()), invalid('now', want, '1900000000000'), 'a number of milliseconds is not a Date')
  value = new Date(0)
  t.equal(o.now().getTime(), 0, 'the epoch is a valid Date')
  // an object whose toString throws is named by its type, never called
  const hostile = { toString: () => { throw new Error('called') } }
  t.same(outcome(() => checkedNow(hostile)), invalid('now', want, 'object'))
  t.same(outcome(() => checkedNow(() => new Date())), invalid('now', want, 'function'))
  const d = new Date()
  t.equal(checkedNow(d), d)
})

t.test('options: allowedKeyTypes must be an object', async (t) => {
  const want = 'an object of role → key types'
  t.same(outcome(() => resolveOptions({ allowedKeyTypes: null as unknown as object })), invalid('allowedKeyTypes', want, 'null'))
  t.same(outcome(() => resolveOptions({ allowedKeyTypes: 'ecdsa' as unknown as object })), invalid('allowedKeyTypes', want, '"ecdsa"'))
  t.same(outcome(() => resolveOptions({ allowedKeyTypes: {} })), ok)
})

t.test('counters given by the caller: whole numbers >= 0', async (t) => {
  t.same(outcome(() => checkCounterOption('lastCounter', 0)), ok)
  t.same(outcome(() => checkCounterOption('lastCounter', Number.MAX_SAFE_INTEGER)), ok)
  const want = 'a whole number >= 0'
  t.same(outcome(() => checkCounterOption('lastCounter', -1)), invalid('lastCounter', want, '-1'))
  t.same(outcome(() => checkCounterOption('lastCounter', 1.5)), invalid('lastCounter', want, '1.5'))
  t.same(outcome(() => checkCounterOption('lastCounter', 2 ** 53)), invalid('lastCounter', want, String(2 ** 53)))
  t.same(outcome(() => checkCounterOption('lastCounter', '7')), invalid('lastCounter', want, '"7"'))
  t.same(outcome(() => checkCounterOption('x', false)), invalid('x', want, 'false'))
})

t.test('expiry: refused from exactly expires + grace on, with what expired', async (t) => {
  const doc = { _type: 'targets', expires: '2030-01-01T00:00:00Z' }
  const at = Date.parse(doc.expires)
  const expired = (graceSeconds: number) => ({
    code: 'METADATA_EXPIRED',
    message: 'targets expired at 2030-01-01T00:00:00Z',
    details: { type: 'targets', expires: doc.expires, graceSeconds },
  })
  t.same(outcome(() => checkExpiry(doc, new Date(at - 1), 0)), ok, 'a millisecond before')
  t.same(outcome(() => checkExpiry(doc, new Date(at), 0)), expired(0), 'at the instant')
  t.same(outcome(() => checkExpiry(doc, new Date(at + 9_999), 10)), ok, 'inside a 10 s grace')
  t.same(outcome(() => checkExpiry(doc, new Date(at + 10_000), 10)), expired(10), 'at the end of the grace')
  t.same(outcome(() => checkExpiry(doc, new Date(at - 10_000), 10)), ok, 'long before')
  t.same(outcome(() => checkExpiry({ ...doc, expires: '2030-02-30T00:00:00Z' }, new Date(0), 0)), {
    code: 'DOC_MALFORMED',
    message: 'expires must be a real UTC instant YYYY-MM-DDTHH:MM:SSZ',
    details: { field: 'expires' },
  }, 'a date that does not exist is not read as March 2')
})

t.test('payload: exactly the signed length, in one chunk or several', async (t) => {
  const data = Buffer.from('0123456789')
  const expected = { sha256: sha256(data), length: 10 }
  const v = new PayloadVerifier(expected)
  v.update(data.subarray(0, 4))
  v.update(data.subarray(4, 4))
  v.update(data.subarray(4))
  t.same(outcome(() => v.finish()), ok)
  t.equal(v.expected, expected)
  t.same(await outcomeAsync(() => verifyPayload(data, expected)), ok, 'bytes')
  t.same(await outcomeAsync(() => verifyPayload([data.subarray(0, 3), data.subarray(3)], expected)), ok, 'an iterable of chunks')
  async function* chunks() {
    for (let i = 0; i < data.length; i += 3) yield data.subarray(i, i + 3)
  }
  t.same(await outcomeAsync(() => verifyPayload(chunks(), expected)), ok, 'an async iterable')
  const empty = { sha256: sha256(Buffer.alloc(0)), length: 0 }
  t.same(await outcomeAsync(() => verifyPayload(Buffer.alloc(0), empty)), ok, 'an empty payload')
})

t.test('payload: one byte over is refused as it arrives; short or different is refused at the end', async (t) => {
  const data = Buffer.from('0123456789')
  const expected = { sha256: sha256(data), length: 10 }
  const v = new PayloadVerifier(expected)
  v.update(data.subarray(0, 6))
  t.same(outcome(() => v.update(data.subarray(0, 5))), {
    code: 'PAYLOAD_LENGTH_MISMATCH',
    message: 'payload exceeds its signed length 10',
    details: { length: 10 },
  }, 'counted across chunks')
  t.same(await outcomeAsync(() => verifyPayload(Buffer.concat([data, Buffer.from('x')]), expected)), {
    code: 'PAYLOAD_LENGTH_MISMATCH',
    message: 'payload exceeds its signed length 10',
    details: { length: 10 },
  })
  t.same(await outcomeAsync(() => verifyPayload(data.subarray(0, 9), expected)), {
    code: 'PAYLOAD_LENGTH_MISMATCH',
    message: 'payload is 9 bytes, signed length 10',
    details: { length: 9, expected: 10 },
  })
  const other = Buffer.from('0123456780')
  t.same(await outcomeAsync(() => verifyPayload(other, expected)), {
    code: 'PAYLOAD_HASH_MISMATCH',
    message: `payload sha256 ${sha256(other)} is not the signed ${expected.sha256}`,
    details: { actual: sha256(other), expected: expected.sha256 },
  })
})

const h = (c: string) => c.repeat(64)
const rel = (over: Partial<Release> = {}): Release => ({
  name: 'edge-os',
  version: '2.1.0',
  kind: 'os-image',
  hardware: ['rpi4', 'rpi5'],
  sha256: h('a'),
  length: 100,
  securityVersion: 5,
  provenance: { sourceRevision: 'a'.repeat(40), builder: 'https://ci.example/runner/7', sbomDigest: 'sha256:' + 'b'.repeat(64) },
  ...over,
})
const delta = (over: Partial<Delta> = {}): Delta => ({ sourceSha256: h('c'), targetSha256: h('a'), patchSha256: h('d'), patchLength: 50, format: 'slipway-delta-v1', ...over })
const asg = (over: Partial<Assignment> = {}): Assignment => ({ deviceId: 'dev-1', release: { name: 'edge-os', version: '2.1.0', sha256: h('a') }, rolloutId: 'ro-1', counter: 7, ...over })
const device = { hardware: 'rpi5', securityVersion: 5, installedSha256: h('c') }

t.test('securityVersion: equal or higher is allowed, lower refused; the installed one must be a counter', async (t) => {
  t.same(outcome(() => checkSecurityVersion(5, 5)), ok)
  t.same(outcome(() => checkSecurityVersion(5, 6)), ok)
  t.same(outcome(() => checkSecurityVersion(0, 0)), ok)
  t.same(outcome(() => checkSecurityVersion(5, 4)), {
    code: 'SECURITY_VERSION_DOWNGRADE',
    message: 'securityVersion 4 is below installed 5',
    details: { installed: 5, offered: 4 },
  })
  t.same(outcome(() => checkSecurityVersion(-1, 0)), invalid('securityVersion', 'a whole number >= 0', '-1'))
})

t.test('checkUpdate: the assignment must name this release, by name, version and sha256 each', async (t) => {
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel() }, { hardware: 'rpi4', securityVersion: 0 })), ok, 'no delta: no installed image needed')
  const mismatch = (name: string, version: string) => ({
    code: 'ASSIGNMENT_RELEASE_MISMATCH',
    message: `assignment names ${name}@${version}, release is edge-os@2.1.0`,
    details: undefined,
  })
  t.same(outcome(() => checkUpdate({ assignment: asg({ release: { name: 'other', version: '2.1.0', sha256: h('a') } }), release: rel() }, device)), mismatch('other', '2.1.0'))
  t.same(outcome(() => checkUpdate({ assignment: asg({ release: { name: 'edge-os', version: '2.1.1', sha256: h('a') } }), release: rel() }, device)), mismatch('edge-os', '2.1.1'))
  t.same(outcome(() => checkUpdate({ assignment: asg({ release: { name: 'edge-os', version: '2.1.0', sha256: h('b') } }), release: rel() }, device)), mismatch('edge-os', '2.1.0'))
})

t.test('checkUpdate: hardware and securityVersion', async (t) => {
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel() }, { ...device, hardware: 'rpi3' })), {
    code: 'HARDWARE_INCOMPATIBLE',
    message: 'release edge-os@2.1.0 is not for rpi3',
    details: { hardware: ['rpi4', 'rpi5'] },
  })
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel() }, { ...device, securityVersion: 6 })), {
    code: 'SECURITY_VERSION_DOWNGRADE',
    message: 'securityVersion 5 is below installed 6',
    details: { installed: 6, offered: 5 },
  })
})

t.test('checkUpdate: a delta must be the assignment’s (each field), lead to the release and start from the installed image', async (t) => {
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel(), delta: delta() }, device)), ok, 'the assignment names no delta')
  t.same(outcome(() => checkUpdate({ assignment: asg({ delta: delta() }), release: rel(), delta: delta() }, device)), ok, 'the one it names')
  const differs = { code: 'DELTA_MISMATCH', message: 'delta differs from the one the assignment names', details: undefined }
  const fields: Partial<Delta>[] = [{ sourceSha256: h('e') }, { targetSha256: h('e') }, { patchSha256: h('e') }, { patchLength: 51 }, { format: 'slipway-delta-v2' }]
  for (const f of fields) {
    t.same(outcome(() => checkUpdate({ assignment: asg({ delta: delta(f) }), release: rel(), delta: delta() }, device)), differs, `${Object.keys(f)[0]} differs`)
  }
  const target = delta({ targetSha256: h('e') })
  t.same(outcome(() => checkUpdate({ assignment: asg({ delta: target }), release: rel(), delta: target }, device)), {
    code: 'DELTA_MISMATCH',
    message: 'delta does not produce the release target',
    details: undefined,
  })
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel(), delta: delta() }, { ...device, installedSha256: h('f') })), {
    code: 'DELTA_MISMATCH',
    message: 'delta does not apply to the installed image',
    details: undefined,
  })
  t.same(outcome(() => checkUpdate({ assignment: asg(), release: rel(), delta: delta() }, { hardware: 'rpi5', securityVersion: 5 })), {
    code: 'DELTA_MISMATCH',
    message: 'delta does not apply to the installed image',
    details: undefined,
  }, 'no installed image known')
})

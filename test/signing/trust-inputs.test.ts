/**
 * Issue 11, trust layer: the inputs are generated (fast-check), not listed.
 * - one key, one vote: every other encoding of a P-256 key (compressed, hybrid,
 *   explicit curve, private PEMs, relabelled private DER) is refused with a code; a
 *   re-wrapped canonical PEM is accepted but is the same key (one material), so two
 *   keyids of it never meet a threshold of 2;
 * - Ed25519: every small-order point (with or without the sign bit) and every y >= p
 *   encoding is refused; real keys are accepted;
 * - timestamps: `expires` is accepted exactly when it names a real UTC instant;
 * - verification options that would silently disable a check are refused.
 */
import { ECDH, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import fc from 'fast-check'
import { decodeKey, keyIdOf, tufKeyFromKeyObject, type TufKey } from '../../signing/keys.js'
import { parseExpires } from '../../signing/metadata/common.js'
import { checkThreshold } from '../../signing/verify/threshold.js'
import { checkCounterOption, checkedNow, resolveOptions } from '../../signing/verify/options.js'
import { checkSecurityVersion } from '../../signing/verify/index.js'
import { TrustError } from '../../signing/errors.js'

const SPKI_UNCOMPRESSED = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')
const SPKI_COMPRESSED = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex')

const pem = (der: Buffer, label = 'PUBLIC KEY', width = 64, eol = '\n') =>
  `-----BEGIN ${label}-----${eol}${der.toString('base64').match(new RegExp(`.{1,${width}}`, 'g'))!.join(eol)}${eol}-----END ${label}-----${eol}`
const ecdsaKey = (pub: string): TufKey => ({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pub } })

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
    return undefined
  } catch (e) {
    if (e instanceof TrustError) return e.code
    throw e
  }
}

// a P-256 public key with explicit curve parameters, made by openssl once (Node cannot write one)
function explicitCurvePem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-explicit-'))
  try {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    writeFileSync(join(dir, 'pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }))
    execFileSync('openssl', ['ec', '-pubin', '-in', join(dir, 'pub.pem'), '-param_enc', 'explicit', '-pubout', '-out', join(dir, 'explicit.pem')], { stdio: 'ignore' })
    return readFileSync(join(dir, 'explicit.pem'), 'utf8')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

type Variant = 'compressed' | 'hybrid' | 'pkcs8' | 'sec1' | 'pkcs8-relabelled' | 'sec1-relabelled' | 'rewrapped'
const REFUSED: Record<Exclude<Variant, 'rewrapped'>, string[]> = {
  compressed: ['KEY_NOT_CANONICAL'],
  hybrid: ['KEY_NOT_CANONICAL'],
  pkcs8: ['KEY_PRIVATE'],
  sec1: ['KEY_PRIVATE'],
  'pkcs8-relabelled': ['KEY_PRIVATE'],
  'sec1-relabelled': ['KEY_PRIVATE'],
}

t.test('P-256: one key has one accepted encoding, and counts once', async (t) => {
  const explicit = explicitCurvePem()
  t.equal(codeOf(() => decodeKey(ecdsaKey(explicit))), 'KEY_NOT_CANONICAL', 'explicit curve parameters are refused')
  let runs = 0
  fc.assert(
    fc.property(
      fc.constantFrom<Variant>('compressed', 'hybrid', 'pkcs8', 'sec1', 'pkcs8-relabelled', 'sec1-relabelled', 'rewrapped'),
      fc.integer({ min: 4, max: 76 }).map((w) => w * 4 / 4),
      fc.constantFrom('\n', '\r\n'),
      (variant, width, eol) => {
        runs++
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        const canonical = tufKeyFromKeyObject(publicKey)
        const spki = publicKey.export({ format: 'der', type: 'spki' })
        const point = spki.subarray(SPKI_UNCOMPRESSED.length)
        const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
        const sec1 = privateKey.export({ format: 'der', type: 'sec1' })
        // each variant is some DER under some PEM label
        const encoded: Record<Variant, () => [Buffer, string]> = {
          compressed: () => [Buffer.concat([SPKI_COMPRESSED, ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer]), 'PUBLIC KEY'],
          hybrid: () => [Buffer.concat([SPKI_UNCOMPRESSED, Buffer.from([0x06 | (point[64]! & 1)]), point.subarray(1)]), 'PUBLIC KEY'],
          pkcs8: () => [pkcs8, 'PRIVATE KEY'],
          sec1: () => [sec1, 'EC PRIVATE KEY'],
          'pkcs8-relabelled': () => [pkcs8, 'PUBLIC KEY'],
          'sec1-relabelled': () => [sec1, 'PUBLIC KEY'],
          rewrapped: () => [spki, 'PUBLIC KEY'],
        }
        const [der, label] = encoded[variant]()
        const text = pem(der, label, width, eol)
        const variantKey = ecdsaKey(text)
        if (variant !== 'rewrapped') {
          const code = codeOf(() => decodeKey(variantKey))
          if (!REFUSED[variant].includes(code ?? '')) throw new Error(`${variant} gave ${code ?? 'no error'}`)
          return
        }
        // the same key under two keyids: one material, and its two signatures count once
        const a = decodeKey(canonical)
        const b = decodeKey(variantKey)
        if (a.material !== b.material) throw new Error('two encodings of one key have two materials')
        if (keyIdOf(variantKey) === keyIdOf(canonical)) return // same text: nothing to double-count
        const data = Buffer.from('{"signed":true}')
        const sig = cryptoSign('sha256', data, createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })))
        const role = { name: 'release' as const, threshold: 2, keys: new Map([[a.keyId, a], [b.keyId, b]]) }
        const env = { signed: {}, signedBytes: data, signatures: [{ keyid: a.keyId, sig }, { keyid: b.keyId, sig }] }
        const code = codeOf(() => checkThreshold(env, role))
        if (code !== 'SIGNATURE_DUPLICATE') throw new Error(`one key under two keyids gave ${code ?? 'a met threshold'}`)
      },
    ),
    { numRuns: 150 },
  )
  t.pass(`${runs} generated keys and encodings`)
})

const P_MINUS = (k: number) => {
  // little-endian 2^255 - 19 + k for k in [0, 18]: y >= p
  const b = Buffer.alloc(32, 0xff)
  b[31] = 0x7f
  b[0] = 0xed + k
  return b
}
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]
const edKey = (raw: Buffer): TufKey => ({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } })

t.test('Ed25519: small-order and non-canonical points are refused, real keys accepted', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...SMALL_ORDER), fc.boolean(), (hex, signBit) => {
      const raw = Buffer.from(hex, 'hex')
      if (signBit) raw[31]! |= 0x80
      const code = codeOf(() => decodeKey(edKey(raw)))
      if (code !== 'KEY_SMALL_ORDER') throw new Error(`${raw.toString('hex')} gave ${code ?? 'no error'}`)
    }),
  )
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 18 }), fc.boolean(), (k, signBit) => {
      const raw = P_MINUS(k)
      if (signBit) raw[31]! |= 0x80
      const code = codeOf(() => decodeKey(edKey(raw)))
      // y = p and p + 1 are small order (0 and 1); the rest are other spellings of small y
      if (code !== 'KEY_NOT_CANONICAL' && code !== 'KEY_SMALL_ORDER') throw new Error(`y = p + ${k} gave ${code ?? 'no error'}`)
    }),
  )
  fc.assert(
    fc.property(fc.nat(), () => {
      const { publicKey } = generateKeyPairSync('ed25519')
      decodeKey(tufKeyFromKeyObject(publicKey))
    }),
    { numRuns: 50 },
  )
  t.pass('small-order, non-canonical and real Ed25519 keys')
})

t.test('expires is accepted exactly when it is a real UTC instant', async (t) => {
  const p2 = (n: number, w = 2) => String(n).padStart(w, '0')
  fc.assert(
    fc.property(
      fc.integer({ min: 1970, max: 2400 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 61 }),
      (y, mo, d, h, mi, s) => {
        const text = `${p2(y, 4)}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}Z`
        const daysInMonth = mo >= 1 && mo <= 12 ? new Date(Date.UTC(y, mo, 0)).getUTCDate() : 0
        const real = mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h < 24 && mi < 60 && s < 60
        const code = codeOf(() => parseExpires(text))
        if (real && code !== undefined) throw new Error(`${text} refused (${code})`)
        if (!real && code !== 'DOC_MALFORMED') throw new Error(`${text} gave ${code ?? 'no error'}`)
      },
    ),
    { numRuns: 3000 },
  )
  t.pass('3000 generated timestamps')
})

t.test('verification options that would disable a check are refused', async (t) => {
  const junk = fc.oneof(fc.constantFrom(NaN, Infinity, -Infinity, -1, -0.5, 1.5, 2 ** 60), fc.string(), fc.constant(null), fc.object())
  fc.assert(
    fc.property(junk, (v) => {
      const grace = codeOf(() => resolveOptions({ expiryGraceSeconds: v as number }))
      const ok = typeof v === 'number' && Number.isFinite(v) && v >= 0
      if (!ok && grace !== 'OPTIONS_INVALID') throw new Error(`expiryGraceSeconds ${String(v)} gave ${grace ?? 'no error'}`)
      const max = codeOf(() => resolveOptions({ maxBytes: v as number }))
      if (!(Number.isSafeInteger(v) && (v as number) >= 1) && max !== 'OPTIONS_INVALID') throw new Error(`maxBytes ${String(v)} gave ${max ?? 'no error'}`)
      const counter = codeOf(() => checkCounterOption('lastCounter', v))
      if (!(Number.isSafeInteger(v) && (v as number) >= 0) && counter !== 'OPTIONS_INVALID') throw new Error(`lastCounter ${String(v)} gave ${counter ?? 'no error'}`)
      const sv = codeOf(() => checkSecurityVersion(v as number, 1))
      if (!(Number.isSafeInteger(v) && (v as number) >= 0) && sv !== 'OPTIONS_INVALID') throw new Error(`installed securityVersion ${String(v)} gave ${sv ?? 'no error'}`)
    }),
    { numRuns: 300 },
  )
  t.equal(codeOf(() => resolveOptions({ now: () => new Date(NaN) }).now()), 'OPTIONS_INVALID', 'a clock giving Invalid Date')
  t.equal(codeOf(() => checkedNow('2020-01-01')), 'OPTIONS_INVALID', 'a clock giving a string')
  t.equal(codeOf(() => resolveOptions({ now: 5 as unknown as () => Date })), 'OPTIONS_INVALID')
})

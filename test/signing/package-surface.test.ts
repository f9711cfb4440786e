/** The curated entry points load, and canonical JSON agrees with an independent encoder on random documents. */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { canonicalize, canonicalWire, parseCanonical } from '../../signing/canonical-json.js'

t.test('signing/index.js exposes the server/CLI surface', async (t) => {
  const s = await import('../../signing/index.js')
  for (const name of ['FileKeySigner', 'Pkcs11Signer', 'generateTokenKey', 'DeviceCa', 'createRoot', 'rotateRoot', 'signRelease', 'verifyReleaseOffline', 'signAssignment', 'signDelta', 'buildRoot', 'TrustError'])
    t.type((s as Record<string, unknown>)[name], 'function', name)
  t.type(s.verify.TrustedRoot, 'function', 'verify namespace')
  const v = await import('../../signing/verify/index.js')
  for (const name of ['TrustedRoot', 'verifyRelease', 'verifyAssignment', 'verifyDelta', 'checkUpdate', 'PayloadVerifier', 'verifyPayload'])
    t.type((v as Record<string, unknown>)[name], 'function', name)
})

const ALPHABET = ['a', 'Z', '0', '"', '\\', '\n', '\t', '\u0001', 'é', '€', '😀', '\u2028', ' ', '/', '\u007f']
function randomString(): string {
  const n = randomBytes(1)[0]! % 8
  return Array.from({ length: n }, () => ALPHABET[randomBytes(1)[0]! % ALPHABET.length]).join('')
}
function randomValue(depth: number): unknown {
  const pick = randomBytes(1)[0]! % (depth > 3 ? 4 : 6)
  switch (pick) {
    case 0: return randomString()
    case 1: return randomBytes(4).readInt32LE() * (randomBytes(1)[0]! % 2 ? 1 : 1000)
    case 2: return randomBytes(1)[0]! % 3 === 0 ? null : randomBytes(1)[0]! % 2 === 0
    case 3: return randomString()
    case 4: return Array.from({ length: randomBytes(1)[0]! % 4 }, () => randomValue(depth + 1))
    default: return Object.fromEntries(Array.from({ length: randomBytes(1)[0]! % 5 }, () => [randomString(), randomValue(depth + 1)]))
  }
}

t.test('random documents: same bytes as @tufjs/canonical-json; wire form round-trips', async (t) => {
  const { canonicalize: independent } = (await import('@tufjs/canonical-json')) as { canonicalize: (v: unknown) => string }
  let same = 0
  for (let i = 0; i < 500; i++) {
    const v = randomValue(0)
    if (canonicalize(v) === independent(v)) same++
    else t.fail(`differs on ${JSON.stringify(v)}`)
    t.same(parseCanonical(Buffer.from(canonicalWire(v)), 1 << 20), v)
  }
  t.equal(same, 500)
})

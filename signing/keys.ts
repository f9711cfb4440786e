/**
 * TUF 1.0 key format (§4.2 "KEY"): `{keytype, scheme, keyval: {public}}`, and
 * KEYID = hex sha256 of the key's canonical JSON. Two algorithms:
 *   - `ed25519` / scheme `ed25519`, public = 64 hex chars (raw 32-byte key);
 *   - `ecdsa` / scheme `ecdsa-sha2-nistp256`, public = PEM SubjectPublicKeyInfo,
 *     signatures are DER `ECDSA-Sig-Value` over SHA-256 (as securesystemslib writes).
 * Node built-in crypto only: the device verifier imports this file.
 */
import { createHash, createPrivateKey, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { canonicalize } from './canonical-json.js'
import { TrustError } from './errors.js'

export type KeyType = 'ed25519' | 'ecdsa'
export type KeyScheme = 'ed25519' | 'ecdsa-sha2-nistp256'

/** A public key in TUF wire form. */
export interface TufKey {
  keytype: KeyType
  scheme: KeyScheme
  keyval: { public: string }
}

/** A TUF key checked and decoded once; what the verifier works with. */
export interface PublicKey {
  keyId: string
  tuf: TufKey
  object: KeyObject
  /** keytype + the public point (canonical SPKI DER): two keyids of one key have one `material`. */
  material: string
}

const SCHEME_OF: Record<KeyType, KeyScheme> = { ed25519: 'ed25519', ecdsa: 'ecdsa-sha2-nistp256' }
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** SPKI of a P-256 key, named curve (id-ecPublicKey, prime256v1), uncompressed point (0x04 ‖ X ‖ Y): the one accepted encoding. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex')
const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 64
const PUBLIC_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/

/**
 * Ed25519 points of small order (libsodium's blocklist, compared without the sign bit,
 * which also covers their non-canonical encodings): any signature verifies under some
 * of them, so such a key proves nothing.
 */
const ED25519_SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]

/** The raw Ed25519 key: canonical (y < p) and not of small order. */
function checkEd25519Point(raw: Buffer, keyId: string): void {
  const unsigned = Buffer.from(raw)
  unsigned[31]! &= 0x7f
  if (ED25519_SMALL_ORDER.includes(unsigned.toString('hex'))) throw new TrustError('KEY_SMALL_ORDER', 'ed25519 public key is a small-order point', { keyId })
  // y >= p = 2^255 - 19: bytes 1..30 all 0xff, the top byte 0x7f, the low byte >= 0xed
  if (unsigned[31] === 0x7f && unsigned.subarray(1, 31).every((b) => b === 0xff) && unsigned[0]! >= 0xed)
    throw new TrustError('KEY_NOT_CANONICAL', 'ed25519 public key encodes y >= p (another encoding of a smaller value)', { keyId })
}

/**
 * The DER of an ECDSA key's PEM, which must be the canonical SPKI: a private key
 * (PKCS#8, SEC1) is refused, and so is any other encoding of a public point
 * (compressed, hybrid, explicit curve parameters), so that one key has one keyid.
 */
function canonicalP256Spki(pem: string, keyId: string): Buffer {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new TrustError('KEY_PRIVATE', 'keyval.public holds a private key', { keyId })
  const m = PUBLIC_PEM.exec(pem)
  if (!m) throw new TrustError('KEY_MALFORMED', 'keyval.public is not one PEM "PUBLIC KEY" block', { keyId })
  const der = Buffer.from(m[1]!.replace(/\r?\n/g, ''), 'base64')
  if (der.length === P256_SPKI_LENGTH && der.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) return der
  for (const type of ['pkcs8', 'sec1'] as const)
    if (parses(() => createPrivateKey({ key: der, format: 'der', type })))
      throw new TrustError('KEY_PRIVATE', 'keyval.public holds a private key (relabelled)', { keyId })
  let other: KeyObject
  try {
    other = createPublicKey({ key: der, format: 'der', type: 'spki' })
  } catch (e) {
    throw new TrustError('KEY_MALFORMED', 'public key does not parse', { keyId }, { cause: e })
  }
  if (other.asymmetricKeyType !== 'ec' || other.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new TrustError('KEY_TYPE_NOT_ALLOWED', `keyval holds a ${String(other.asymmetricKeyType)} key, keytype says ecdsa`, { keyId })
  throw new TrustError('KEY_NOT_CANONICAL', 'an ecdsa key must be the SPKI of a named-curve P-256 uncompressed point', { keyId })
}

function parses(f: () => unknown): boolean {
  try {
    f()
    return true
  } catch {
    return false
  }
}

/** KEYID (TUF §4.2): lowercase hex sha256 of the canonical JSON of the public key. */
export function keyIdOf(key: TufKey): string {
  return createHash('sha256').update(canonicalize(key)).digest('hex')
}

/** The TUF form of a Node public (or private: its public half is used) key. */
export function tufKeyFromKeyObject(key: KeyObject): TufKey {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  if (pub.asymmetricKeyType === 'ed25519') {
    const der = pub.export({ format: 'der', type: 'spki' })
    return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: der.subarray(12).toString('hex') } }
  }
  if (pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    const pem = pub.export({ format: 'pem', type: 'spki' }).toString()
    return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } }
  }
  throw new TrustError('KEY_TYPE_NOT_ALLOWED', `unsupported key ${pub.asymmetricKeyType ?? '?'}`)
}

const cache = new Map<string, PublicKey>()
const CACHE_MAX = 256

/**
 * Check a TUF key and decode it. With `keyId`, also check that the id is the
 * sha256 of the key: a root that lists one key under two ids would otherwise let
 * one key count twice toward a threshold.
 */
export function decodeKey(key: unknown, keyId?: string): PublicKey {
  const k = key as Partial<TufKey> | null
  if (typeof k !== 'object' || k === null || typeof k.keyval !== 'object' || k.keyval === null)
    throw new TrustError('KEY_MALFORMED', 'key is not {keytype, scheme, keyval}')
  const pubText = (k.keyval as { public?: unknown }).public
  if (typeof pubText !== 'string') throw new TrustError('KEY_MALFORMED', 'keyval.public is not a string')
  if (k.keytype !== 'ed25519' && k.keytype !== 'ecdsa')
    throw new TrustError('KEY_TYPE_NOT_ALLOWED', `keytype ${String(k.keytype)} is not supported`)
  if (k.scheme !== SCHEME_OF[k.keytype])
    throw new TrustError('KEY_TYPE_NOT_ALLOWED', `scheme ${String(k.scheme)} does not go with keytype ${k.keytype}`)
  const tuf = key as TufKey
  const id = keyIdOf(tuf)
  if (keyId !== undefined && keyId !== id)
    throw new TrustError('KEY_MALFORMED', `keyid ${keyId} is not the sha256 of its key (${id})`, { keyId })
  const hit = cache.get(id)
  if (hit) return hit
  let object: KeyObject
  try {
    if (tuf.keytype === 'ed25519') {
      if (!/^[0-9a-f]{64}$/.test(pubText)) throw new Error('ed25519 public key must be 64 lowercase hex chars')
      checkEd25519Point(Buffer.from(pubText, 'hex'), id)
      object = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pubText, 'hex')]), format: 'der', type: 'spki' })
    } else {
      object = createPublicKey({ key: canonicalP256Spki(pubText, id), format: 'der', type: 'spki' })
    }
  } catch (e) {
    if (e instanceof TrustError) throw e
    throw new TrustError('KEY_MALFORMED', 'public key does not parse', { keyId: id }, { cause: e })
  }
  const actual = object.asymmetricKeyType === 'ec' ? object.asymmetricKeyDetails?.namedCurve : object.asymmetricKeyType
  const expected = tuf.keytype === 'ed25519' ? 'ed25519' : 'prime256v1'
  if (actual !== expected)
    throw new TrustError('KEY_TYPE_NOT_ALLOWED', `keyval holds a ${String(actual)} key, keytype says ${tuf.keytype}`, { keyId: id })
  const material = tuf.keytype + ':' + object.export({ format: 'der', type: 'spki' }).toString('base64')
  const decoded: PublicKey = { keyId: id, tuf: { keytype: tuf.keytype, scheme: tuf.scheme, keyval: { public: pubText } }, object, material }
  if (cache.size >= CACHE_MAX) cache.clear()
  cache.set(id, decoded)
  return decoded
}

/** Verify one signature (TUF wire encoding: raw 64 bytes for Ed25519, DER for ECDSA). */
export function verifySignature(key: PublicKey, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    return cryptoVerify(key.tuf.keytype === 'ed25519' ? null : 'sha256', data, key.object, sig)
  } catch {
    return false // a garbage signature is a failed signature, not a crash
  }
}

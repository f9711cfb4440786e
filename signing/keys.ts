/**
 * TUF 1.0 key format (§4.2 "KEY"): `{keytype, scheme, keyval: {public}}`, and
 * KEYID = hex sha256 of the key's canonical JSON. Two algorithms:
 *   - `ed25519` / scheme `ed25519`, public = 64 hex chars (raw 32-byte key);
 *   - `ecdsa` / scheme `ecdsa-sha2-nistp256`, public = PEM SubjectPublicKeyInfo,
 *     signatures are DER `ECDSA-Sig-Value` over SHA-256 (as securesystemslib writes).
 * Node built-in crypto only: the device verifier imports this file.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto'
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
  /** keytype + SPKI DER: the same key in two encodings has one `material`. */
  material: string
}

const SCHEME_OF: Record<KeyType, KeyScheme> = { ed25519: 'ed25519', ecdsa: 'ecdsa-sha2-nistp256' }
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

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
      object = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pubText, 'hex')]), format: 'der', type: 'spki' })
    } else {
      object = createPublicKey({ key: pubText, format: 'pem' })
    }
  } catch (e) {
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

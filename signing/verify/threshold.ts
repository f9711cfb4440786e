/**
 * Threshold signature check (TUF 1.0 §5.3.4, §5.4.2): at least `threshold`
 * DISTINCT keys of the role must have signed. Each key counts once: duplicate
 * entries for one keyid are refused outright, and two keyids that hold the same
 * key material (e.g. one P-256 key in two PEM spellings) count as one key.
 *
 * On failure the most specific reason wins, so every attack gets its own code:
 * an authorised signature that fails (tampering) > a revoked key > a key type the
 * role may not use > the same key twice > only unknown keys > too few keys.
 */
import type { DecodedEnvelope } from '../envelope.js'
import { TrustError, type TrustErrorCode } from '../errors.js'
import { verifySignature, type KeyType } from '../keys.js'
import type { Role } from '../metadata/root.js'

export interface ThresholdContext {
  /** keyids an earlier root trusted for this role and a later one removed */
  revoked?: ReadonlySet<string>
  allowedKeyTypes?: readonly KeyType[]
}

/** Returns the keyids that counted toward the threshold. */
export function checkThreshold(env: DecodedEnvelope, role: Role, ctx: ThresholdContext = {}): string[] {
  const seenIds = new Set<string>()
  for (const s of env.signatures)
    if (seenIds.has(s.keyid))
      throw new TrustError('SIGNATURE_DUPLICATE', `key ${s.keyid} signed twice`, { role: role.name, keyId: s.keyid })
    else seenIds.add(s.keyid)

  const counted = new Map<string, string>() // material -> keyid
  let invalid = 0, revoked = 0, wrongType = 0, sameKey = 0, unknown = 0
  for (const s of env.signatures) {
    const key = role.keys.get(s.keyid)
    if (!key) {
      if (ctx.revoked?.has(s.keyid)) revoked++
      else unknown++
      continue
    }
    if (ctx.allowedKeyTypes && !ctx.allowedKeyTypes.includes(key.tuf.keytype)) {
      wrongType++
      continue
    }
    if (!verifySignature(key, env.signedBytes, s.sig)) {
      invalid++
      continue
    }
    if (counted.has(key.material)) sameKey++
    else counted.set(key.material, key.keyId)
  }
  if (counted.size >= role.threshold) return [...counted.values()]

  const [code, why]: [TrustErrorCode, string] =
    invalid > 0 ? ['SIGNATURE_INVALID', `${invalid} signature(s) by ${role.name} keys do not verify`]
    : revoked > 0 ? ['SIGNATURE_REVOKED_KEY', `signed by ${revoked} key(s) revoked from ${role.name}`]
    : wrongType > 0 ? ['KEY_TYPE_NOT_ALLOWED', `signed by ${wrongType} key(s) of a type ${role.name} may not use`]
    : sameKey > 0 ? ['SIGNATURE_DUPLICATE', `one ${role.name} key signed under ${sameKey + 1} keyids`]
    : unknown > 0 && counted.size === 0 ? ['SIGNATURE_UNKNOWN_KEY', `signed only by keys ${role.name} does not list`]
    : ['THRESHOLD_NOT_MET', `${role.name} needs ${role.threshold} keys`]
  throw new TrustError(code, `${why} (${counted.size}/${role.threshold} valid)`, {
    role: role.name,
    valid: counted.size,
    threshold: role.threshold,
  })
}

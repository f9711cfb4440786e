/** Freshness (TUF 1.0 §5.3.10, §5.4.4): refuse metadata expired beyond the grace (freeze attack). */
import { TrustError } from '../errors.js'
import { parseExpires } from '../metadata/common.js'

export function checkExpiry(signed: { _type: string; expires: string }, now: Date, graceSeconds: number): void {
  const expires = parseExpires(signed.expires)
  if (now.getTime() >= expires.getTime() + graceSeconds * 1000)
    throw new TrustError('METADATA_EXPIRED', `${signed._type} expired at ${signed.expires}`, {
      type: signed._type,
      expires: signed.expires,
      graceSeconds,
    })
}

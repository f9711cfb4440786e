/** Options of the device-side verifier; every field has a safe default. */
import { TrustError } from '../errors.js'
import type { KeyType } from '../keys.js'
import type { RoleName } from '../metadata/root.js'

export interface VerifyOptions {
  /** Largest document accepted, in bytes, checked before parsing (TUF §5.2 endless data). Default 1 MiB. */
  maxBytes?: number
  /**
   * Seconds past `expires` during which metadata is still accepted, so a device that
   * was offline is not bricked by expired metadata. Default 0 (no grace).
   */
  expiryGraceSeconds?: number
  /** Clock. Default `() => new Date()`. */
  now?: () => Date
  /** Key types each role may sign with, e.g. `{ online: ['ecdsa'] }` when the HSM holds P-256. Default: any supported. */
  allowedKeyTypes?: Partial<Record<RoleName, readonly KeyType[]>>
}

export type ResolvedOptions = Required<VerifyOptions>

/** A check must never be disabled by a value that compares false with everything (NaN) or by a wrong type. */
export function resolveOptions(o: VerifyOptions = {}): ResolvedOptions {
  // only `undefined` means "not given": a null is a mistake, not the default
  const maxBytes = o.maxBytes === undefined ? 1024 * 1024 : o.maxBytes
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) bad('maxBytes', 'a whole number of bytes >= 1', maxBytes)
  const grace = o.expiryGraceSeconds === undefined ? 0 : o.expiryGraceSeconds
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0) bad('expiryGraceSeconds', 'a finite number of seconds >= 0', grace)
  if (o.now !== undefined && typeof o.now !== 'function') bad('now', 'a function returning a Date', o.now)
  const clock = o.now ?? (() => new Date())
  if (o.allowedKeyTypes !== undefined && (typeof o.allowedKeyTypes !== 'object' || o.allowedKeyTypes === null)) bad('allowedKeyTypes', 'an object of role → key types', o.allowedKeyTypes)
  return {
    maxBytes,
    expiryGraceSeconds: grace,
    now: () => checkedNow(clock()),
    allowedKeyTypes: o.allowedKeyTypes ?? {},
  }
}

/** The clock is read at each check: an Invalid Date then fails that check instead of passing it. */
export function checkedNow(d: unknown): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) bad('now', 'a function returning a valid Date', d)
  return d as Date
}

/** A counter or version given by the caller: a non-negative safe integer. */
export function checkCounterOption(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(name, 'a whole number >= 0', v)
}

/** Names what was given without calling into it: String() of an object runs its own toString, which may throw. */
const describe = (v: unknown): string => (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined ? String(v) : typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v)

function bad(name: string, want: string, got: unknown): never {
  throw new TrustError('OPTIONS_INVALID', `verification option ${name} must be ${want}, got ${describe(got)}`, { option: name })
}

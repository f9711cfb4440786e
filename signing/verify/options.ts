/** Options of the device-side verifier; every field has a safe default. */
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

export function resolveOptions(o: VerifyOptions = {}): ResolvedOptions {
  return {
    maxBytes: o.maxBytes ?? 1024 * 1024,
    expiryGraceSeconds: o.expiryGraceSeconds ?? 0,
    now: o.now ?? (() => new Date()),
    allowedKeyTypes: o.allowedKeyTypes ?? {},
  }
}

/**
 * Root key ceremony (TUF 1.0 §5.3 from the publishing side): create the first
 * root, then publish each change (keys added or revoked, thresholds changed, the
 * online key rotated) as root version N+1, signed by a threshold of version N's
 * root keys AND of version N+1's. Every function refuses (CEREMONY_INVALID) to
 * produce a root that devices would not accept, by running the device verifier.
 *
 * Signing can happen all at once (`createRoot`, `rotateRoot`), or in steps when
 * key holders sign on separate machines: `proposeRootUpdate` → `signRoot` (each
 * holder, any order) → `publishRoot`.
 */
import { addSignatures, decodeEnvelope, encodeEnvelope, type Envelope } from '../envelope.js'
import { TrustError } from '../errors.js'
import { decodeKey, type TufKey } from '../keys.js'
import { expiresIn } from '../metadata/common.js'
import { buildRoot, parseRoot, ROLE_NAMES, type RoleName, type RootSigned } from '../metadata/root.js'
import type { Signer } from '../signer.js'
import { checkExpiry } from '../verify/expiry.js'
import { TrustedRoot } from '../verify/trusted-root.js'

/** Default root lifetime: one year (roots are re-signed at least yearly). */
export const ROOT_LIFETIME_SECONDS = 365 * 86400
const MAX_BYTES = 1 << 20

export interface CreateRootSpec {
  roles: Record<RoleName, { keys: TufKey[]; threshold: number }>
  /** default: now + ROOT_LIFETIME_SECONDS */
  expires?: string
}

export interface RootChange {
  /** keys to add to roles */
  add?: Partial<Record<RoleName, TufKey[]>>
  /** keyids to remove from roles (revocation) */
  remove?: Partial<Record<RoleName, string[]>>
  /** new thresholds */
  thresholds?: Partial<Record<RoleName, number>>
  /** default: now + ROOT_LIFETIME_SECONDS */
  expires?: string
}

const refuse = (why: string, cause?: unknown): TrustError =>
  new TrustError('CEREMONY_INVALID', why, cause instanceof TrustError ? { reason: cause.code } : undefined, { cause })

function checked<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof TrustError && e.code === 'CEREMONY_INVALID') throw e
    throw refuse(`${what}: ${(e as Error).message}`, e)
  }
}

/** Root version 1, signed by `signers` (a threshold of its root keys). */
export async function createRoot(spec: CreateRootSpec, signers: readonly Signer[]): Promise<Buffer> {
  const signed = checked('root', () => buildRoot({ version: 1, expires: spec.expires ?? expiresIn(ROOT_LIFETIME_SECONDS), roles: spec.roles }))
  const bytes = encodeEnvelope(await addSignatures({ signed, signatures: [] }, signers))
  checked('new root', () => TrustedRoot.walk(bytes, []))
  return bytes
}

/** The unsigned root version N+1 that applies `changes` to the current root. */
export function proposeRootUpdate(current: Uint8Array, ...changes: RootChange[]): RootSigned {
  const root = parseRoot(decodeEnvelope(current, MAX_BYTES).signed)
  const roles = {} as CreateRootSpec['roles']
  for (const name of ROLE_NAMES) {
    const keys = new Map(root.roles[name].keyids.map((id) => [id, root.keys[id] as TufKey]))
    let threshold = root.roles[name].threshold
    for (const c of changes) {
      for (const k of c.add?.[name] ?? []) keys.set(checked('key', () => decodeKey(k).keyId), k)
      for (const id of c.remove?.[name] ?? []) if (!keys.delete(id)) throw refuse(`role ${name} has no key ${id}`)
      threshold = c.thresholds?.[name] ?? threshold
    }
    roles[name] = { keys: [...keys.values()], threshold }
  }
  const expires = changes.reduce<string | undefined>((e, c) => c.expires ?? e, undefined) ?? expiresIn(ROOT_LIFETIME_SECONDS)
  return checked('root update', () => buildRoot({ version: root.version + 1, expires, roles }))
}

/** Add signatures of present key holders to a (partly signed) root. */
export async function signRoot(root: RootSigned | Envelope<RootSigned>, signers: readonly Signer[]): Promise<Envelope<RootSigned>> {
  const env = 'signed' in root && 'signatures' in root ? root : { signed: root as RootSigned, signatures: [] }
  return addSignatures(env, signers)
}

/**
 * Check a signed root update against the current root exactly as a device will
 * (old and new thresholds, version N+1, not expired) and return its bytes.
 */
export function publishRoot(current: Uint8Array, next: Envelope<RootSigned>): Buffer {
  const bytes = encodeEnvelope(next)
  checked('root update', () => {
    const trust = TrustedRoot.fromPinned(current)
    trust.update(bytes)
    checkExpiry(trust.signed, new Date(), 0)
  })
  return bytes
}

/** Propose, sign with `signers` (old and new root key holders), publish: one step. */
export async function rotateRoot(current: Uint8Array, change: RootChange, signers: readonly Signer[]): Promise<Buffer> {
  return publishRoot(current, await signRoot(proposeRootUpdate(current, change), signers))
}

/**
 * The device's root of trust and its walk forward (TUF 1.0 §5.2, §5.3): start
 * from a pinned root, accept root N+1 only when it is signed by a threshold of
 * root N's root keys AND a threshold of its own, and its version is exactly N+1.
 * Keys removed from a role along the way are remembered, so a signature by a
 * revoked CI key is reported as such rather than as an unknown key.
 */
import { decodeEnvelope } from '../envelope.js'
import { TrustError } from '../errors.js'
import { parseRoot, roleOf, ROLE_NAMES, type Role, type RoleName, type RootSigned } from '../metadata/root.js'
import { checkExpiry } from './expiry.js'
import { resolveOptions, type ResolvedOptions, type VerifyOptions } from './options.js'
import { checkThreshold } from './threshold.js'
import type { DecodedEnvelope } from '../envelope.js'

export class TrustedRoot {
  #signed: RootSigned
  #roles: Map<RoleName, Role>
  readonly #revoked = new Map<RoleName, Set<string>>(ROLE_NAMES.map((n) => [n, new Set<string>()]))
  readonly options: ResolvedOptions

  private constructor(signed: RootSigned, options: ResolvedOptions) {
    this.#signed = signed
    this.#roles = new Map(ROLE_NAMES.map((n) => [n, roleOf(signed, n)]))
    this.options = options
  }

  /**
   * §5.2: load the root shipped with the device. It is trusted by provisioning;
   * we still require its own threshold so a corrupted file fails early. Expiry is
   * not checked here (§5.3.10 checks the final root of the walk: `checkFresh`).
   */
  static fromPinned(bytes: Uint8Array, options?: VerifyOptions): TrustedRoot {
    const opts = resolveOptions(options)
    const env = decodeEnvelope(bytes, opts.maxBytes)
    const signed = parseRoot(env.signed)
    const root = new TrustedRoot(signed, opts)
    checkThreshold(env, root.role('root'), root.#ctx('root'))
    return root
  }

  /** Walk: pinned root, then each newer root in order; then check freshness. */
  static walk(pinned: Uint8Array, newer: readonly Uint8Array[], options?: VerifyOptions): TrustedRoot {
    const root = TrustedRoot.fromPinned(pinned, options)
    for (const next of newer) root.update(next)
    root.checkFresh()
    return root
  }

  get signed(): RootSigned {
    return this.#signed
  }

  get version(): number {
    return this.#signed.version
  }

  role(name: RoleName): Role {
    return this.#roles.get(name) as Role
  }

  /** Keyids that an earlier root of the walk listed for `name` and the current one does not. */
  revoked(name: RoleName): ReadonlySet<string> {
    return this.#revoked.get(name) as Set<string>
  }

  /** Check a document's signatures against one role of the current root. */
  checkSignatures(env: DecodedEnvelope, name: RoleName): string[] {
    return checkThreshold(env, this.role(name), this.#ctx(name))
  }

  #ctx(name: RoleName) {
    const allowed = this.options.allowedKeyTypes[name]
    return { revoked: this.revoked(name), ...(allowed ? { allowedKeyTypes: allowed } : {}) }
  }

  /** §5.3.4–§5.3.8: accept root version N+1, or throw and keep trusting version N. */
  update(bytes: Uint8Array): void {
    const env = decodeEnvelope(bytes, this.options.maxBytes)
    const next = parseRoot(env.signed)
    // §5.3.4 (1): a threshold of the keys we trust now.
    try {
      checkThreshold(env, this.role('root'), this.#ctx('root'))
    } catch (e) {
      throw new TrustError('ROOT_NOT_SIGNED_BY_PREVIOUS', `root v${next.version} lacks the root threshold of trusted v${this.version}`,
        { version: next.version, trusted: this.version, reason: (e as TrustError).code }, { cause: e })
    }
    // §5.3.4 (2): a threshold of its own keys, proving the new key holders took part.
    const nextRoles = new Map(ROLE_NAMES.map((n) => [n, roleOf(next, n)]))
    try {
      checkThreshold(env, nextRoles.get('root') as Role, this.#ctx('root'))
    } catch (e) {
      throw new TrustError('ROOT_NOT_SELF_SIGNED', `root v${next.version} lacks its own root threshold`,
        { version: next.version, reason: (e as TrustError).code }, { cause: e })
    }
    // §5.3.5: no rollback, no skipping.
    if (next.version !== this.version + 1)
      throw new TrustError('ROOT_VERSION_NOT_CONSECUTIVE', `root v${next.version} does not follow trusted v${this.version}`,
        { version: next.version, trusted: this.version })
    for (const name of ROLE_NAMES) {
      const set = this.#revoked.get(name) as Set<string>
      const now = nextRoles.get(name) as Role
      for (const id of this.role(name).keys.keys()) if (!now.keys.has(id)) set.add(id)
      for (const id of now.keys.keys()) set.delete(id) // re-added keys are trusted again
    }
    this.#signed = next
    this.#roles = nextRoles
  }

  /** §5.3.10: the final root must not be expired (beyond the grace). */
  checkFresh(): void {
    checkExpiry(this.#signed, this.options.now(), this.options.expiryGraceSeconds)
  }
}

/**
 * The server's view of the root of trust: the published root chain (TUF 1.0 §5.3
 * from the repository side). Installing a root version checks it exactly as a
 * device will — signed by a threshold of the previous root's keys AND of its own,
 * version N+1, not expired — before it becomes visible; the chain is stored
 * append-only and served byte for byte.
 */
import { createHash } from 'node:crypto'
import { TrustedRoot } from '../../../signing/verify/index.js'
import { conflict, notFound, SlipwayError, unprocessable } from '../errors.js'
import type { StoredRoot } from '../model.js'
import type { RootRepository } from '../ports/repositories.js'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

export interface InstalledRoot {
  version: number
  /** false when this exact document was already installed (idempotent) */
  created: boolean
}

export class TrustService {
  #cache: { version: number; sha256: string; trust: TrustedRoot } | undefined

  constructor(
    private readonly roots: RootRepository,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The chain as stored, oldest first; a row whose bytes no longer hash to its digest stops everything. */
  async chain(): Promise<Buffer[]> {
    return (await this.roots.list()).map((r) => this.#bytes(r))
  }

  #bytes(r: StoredRoot): Buffer {
    const bytes = Buffer.from(r.document, 'utf8')
    if (sha256(bytes) !== r.sha256)
      throw new SlipwayError('internal', 'TRUST_ROOT_CORRUPT', `stored root v${r.version} does not match its sha256`, { version: r.version })
    return bytes
  }

  /** Canonical bytes of one root version (`latest` for the newest). */
  async document(version: number | 'latest'): Promise<{ version: number; bytes: Buffer }> {
    const r = version === 'latest' ? await this.roots.latest() : await this.roots.find(version)
    if (!r) throw notFound('ROOT_NOT_FOUND', version === 'latest' ? 'no root is installed yet' : `no root version ${version}`, { version })
    return { version: r.version, bytes: this.#bytes(r) }
  }

  async latestVersion(): Promise<number | undefined> {
    return (await this.roots.latest())?.version
  }

  /**
   * The newest root, walked from version 1 and fresh now. Cached per newest
   * version, so that a root installed by another replica or the CLI is picked up
   * on the next call.
   */
  async current(): Promise<TrustedRoot> {
    const latest = await this.roots.latest()
    if (!latest)
      throw new SlipwayError('unavailable', 'TRUST_ROOT_MISSING', 'no root of trust is installed: run `slipway keys install-root`')
    if (this.#cache?.version !== latest.version || this.#cache.sha256 !== latest.sha256) {
      const [first, ...rest] = await this.chain()
      const trust = TrustedRoot.fromPinned(first as Buffer, { now: this.now })
      for (const next of rest) trust.update(next)
      this.#cache = { version: latest.version, sha256: latest.sha256, trust }
    }
    const trust = this.#cache.trust
    try {
      trust.checkFresh()
    } catch (e) {
      // the server's root, not the caller's metadata, is stale: an operator must act
      throw new SlipwayError('unavailable', 'TRUST_ROOT_EXPIRED', `root v${trust.version} expired at ${trust.signed.expires}: publish a new root version`, { version: trust.version }, { cause: e })
    }
    return trust
  }

  /**
   * Publish a root version. Version 1 is trusted on first install (as a device is
   * provisioned); later versions must extend the stored chain. TrustErrors
   * (ROOT_NOT_SIGNED_BY_PREVIOUS, ROOT_VERSION_NOT_CONSECUTIVE, …) pass through.
   */
  async install(bytes: Uint8Array): Promise<InstalledRoot> {
    const chain = await this.chain()
    const options = { now: this.now }
    let trust: TrustedRoot
    if (chain.length === 0) {
      trust = TrustedRoot.fromPinned(bytes, options)
      if (trust.version !== 1) throw unprocessable('ROOT_FIRST_VERSION', `the first root installed must be version 1, not ${trust.version}`)
    } else {
      const same = chain.findIndex((c) => c.equals(bytes))
      if (same >= 0) return { version: same + 1, created: false }
      trust = TrustedRoot.fromPinned(chain[0] as Buffer, options)
      for (const next of chain.slice(1)) trust.update(next)
      trust.update(bytes)
    }
    trust.checkFresh() // §5.3.10: never publish a root devices would reject as expired
    const doc = Buffer.from(bytes).toString('utf8')
    const inserted = await this.roots.insert({ version: trust.version, document: doc, sha256: sha256(bytes), createdAt: this.now().toISOString() })
    if (inserted === 'duplicate') {
      const winner = await this.roots.find(trust.version)
      if (winner?.sha256 === sha256(bytes)) return { version: trust.version, created: false }
      throw conflict('ROOT_VERSION_EXISTS', `another root v${trust.version} was installed first`, { version: trust.version })
    }
    return { version: trust.version, created: true }
  }

  /** Start-up check: what the online key signs must verify against the current root. */
  async checkOnlineKey(keyId: string): Promise<void> {
    const trust = await this.current()
    if (!trust.role('online').keys.has(keyId))
      throw new SlipwayError('internal', 'ONLINE_KEY_NOT_IN_ROOT', `the online key ${keyId} is not in the online role of root v${trust.version}: devices would refuse what it signs. Rotate the online key (slipway keys rotate-online) or configure the key the root lists`, {
        keyId,
        rootVersion: trust.version,
        online: [...trust.role('online').keys.keys()],
      })
  }
}

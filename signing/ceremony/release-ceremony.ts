/**
 * CI side: sign release metadata (`slipway release sign`); anyone offline: check a
 * release against a root chain and, optionally, the artifact file
 * (`slipway release verify`).
 */
import { createReadStream } from 'node:fs'
import { encodeEnvelope, signEnvelope } from '../envelope.js'
import { expiresIn } from '../metadata/common.js'
import { buildRelease, type Release } from '../metadata/release.js'
import type { Signer } from '../signer.js'
import { verifyRelease } from '../verify/documents.js'
import { verifyPayload } from '../verify/payload.js'
import { TrustedRoot } from '../verify/trusted-root.js'
import type { VerifyOptions } from '../verify/options.js'

/** Default release metadata lifetime: one year. */
export const RELEASE_LIFETIME_SECONDS = 365 * 86400

/** Release metadata signed by `signers` (the CI's release key or keys). */
export async function signRelease(release: Release, signers: readonly Signer[], o: { expires?: string; version?: number } = {}): Promise<Buffer> {
  const signed = buildRelease(release, { expires: o.expires ?? expiresIn(RELEASE_LIFETIME_SECONDS), ...(o.version ? { version: o.version } : {}) })
  return encodeEnvelope(await signEnvelope(signed, signers))
}

export interface OfflineVerification {
  release: Release
  /** keyids whose signatures counted */
  keyIds: string[]
  /** version of the newest root in the chain */
  rootVersion: number
  /** true when an artifact was given and matched */
  artifactChecked: boolean
}

/**
 * Verify release metadata offline: walk `rootChain` (pinned root first), check the
 * release against its `release` role, then stream `artifactPath` (if given)
 * against the signed sha256 and length.
 */
export async function verifyReleaseOffline(rootChain: readonly Uint8Array[], releaseBytes: Uint8Array, o: { artifactPath?: string } & VerifyOptions = {}): Promise<OfflineVerification> {
  const [pinned, ...newer] = rootChain
  if (!pinned) throw new TypeError('rootChain needs at least the pinned root')
  const trust = TrustedRoot.walk(pinned, newer, o)
  const { release, keyIds } = verifyRelease(trust, releaseBytes)
  if (o.artifactPath) await verifyPayload(createReadStream(o.artifactPath), release)
  return { release, keyIds, rootVersion: trust.version, artifactChecked: o.artifactPath !== undefined }
}

/** Port: where resumable uploads are staged until a release binds them. */
import type { Readable } from 'node:stream'
import type { Provenance } from '../model.js'
import type { BlobInfo } from './infrastructure.js'
import type { ReleaseInput } from '../releases/release-input.js'

export interface StagedUpload {
  id: string
  /** declared total length; undefined while the client defers it */
  size: number | undefined
  /** bytes received so far */
  offset: number
  /** sha256 computed while the bytes streamed in, when every byte passed through this process in order */
  sha256?: string
}

export interface UploadArea {
  get(id: string): Promise<StagedUpload | undefined>
  /** The finished upload's bytes, streamed (for hashing when no streaming hash covers them). */
  read(id: string): Promise<Readable>
  /**
   * Moves the finished, verified upload into the blob store as `blob` (a rename on
   * disk, a server-side copy in S3), then forgets the upload.
   */
  commit(id: string, blob: BlobInfo): Promise<void>
  /** Forget an upload and reclaim its bytes; a no-op when absent. */
  remove(id: string): Promise<void>
  /** Reclaim uploads idle past their expiry; returns how many. */
  reclaimExpired(): Promise<number>
}

/** What the trust layer vouches for once a push's release metadata checks out. */
export interface VerifiedReleaseMetadata {
  /** the signed envelope as stored and later served to devices */
  metadata: unknown
  /** provenance as signed by CI (authoritative over the pushed copy) */
  provenance: Provenance
  /** keyids whose signatures met the release threshold */
  keyIds: string[]
  /** root version the signatures were checked against */
  rootVersion: number
}

/**
 * Seam for the trust layer: refuse release metadata that does not meet the current
 * root's `release` threshold, or that signs other fields than the ones pushed.
 */
export interface ReleaseMetadataVerifier {
  verify(input: ReleaseInput): Promise<VerifiedReleaseMetadata>
  /**
   * Before anything is hashed or sent: would signatures by these keyids meet the
   * release role's threshold? Throws the code the full check would (unknown, revoked
   * key, threshold not met); signatures themselves are checked only by verify().
   */
  checkSigners(keyIds: readonly string[]): Promise<void>
}

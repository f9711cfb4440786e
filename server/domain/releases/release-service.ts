/**
 * Binds a finished upload to release metadata. The bytes are re-hashed (or their
 * streaming hash reused) and must match the declared sha256 and length; only then
 * are they committed to the blob store and the release row written. A failed bind
 * leaves no release and reclaims the staged bytes. Where the bytes are staged (a
 * folder, or S3 multipart) and how they move into the blob store is the upload area's.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { parseRelease } from '../../../signing/metadata/release.js'
import { TrustError } from '../../../signing/verify/index.js'
import { conflict, notFound, SlipwayError, unprocessable } from '../errors.js'
import type { Principal, Provenance, Release } from '../model.js'
import { checkReleaseInput, type ReleaseInput } from './release-input.js'
import type { ReleaseListQuery, ReleaseRepository } from '../ports/repositories.js'
import type { ReleaseMetadataVerifier, UploadArea, VerifiedReleaseMetadata } from '../ports/upload-area.js'

/** What a CI knows before hashing or sending a byte (slipway push asks this first). */
export type ReleasePreflight = Omit<ReleaseInput, 'uploadId' | 'sha256'> & {
  /** known once the artifact is hashed; without it an existing release of the same shape is only reported */
  sha256?: string
  /** keyids that will sign the metadata (when the metadata itself is not signed yet) */
  keyIds?: string[]
}

export interface PreflightResult {
  /** the release already published under this name and version, when it may be identical */
  existing: Release | null
}

export interface PublishResult {
  release: Release
  /** false when an identical release already existed (idempotent re-push) */
  created: boolean
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; length: number }> {
  const h = createHash('sha256')
  let length = 0
  for await (const chunk of stream) {
    h.update(chunk as Buffer)
    length += (chunk as Buffer).length
  }
  return { sha256: h.digest('hex'), length }
}

/** Same artifact and same descriptive metadata: a re-push of what is already there. */
function sameRelease(a: Release, b: ReleaseInput): boolean {
  return (
    a.sha256 === b.sha256 &&
    a.length === b.length &&
    a.kind === b.kind &&
    a.securityVersion === b.securityVersion &&
    JSON.stringify([...a.hardware].sort()) === JSON.stringify([...b.hardware].sort())
  )
}

/** A refusal of the push itself, as opposed to an outage or a bug after which CI may retry the same upload. */
const isRefusal = (e: unknown) => e instanceof TrustError || (e instanceof SlipwayError && e.kind !== 'unavailable' && e.kind !== 'internal')

const exists = (existing: Release, input: ReleaseInput) =>
  conflict('RELEASE_EXISTS', `${input.name} ${input.version} already exists with other content`, { id: existing.id, sha256: existing.sha256 })

/** The provenance policy of a release name (ReleasePolicyService). */
export interface ProvenanceGate {
  /** PROVENANCE_REQUIRED when `provenance` lacks a field the policy of `name` requires */
  enforce(name: string, provenance: Provenance): Promise<void>
}

/** What a newly published release starts: delta planning from what the fleet runs (DeltaService). */
export interface DeltaPlanning {
  /** Queues the planning; never builds anything itself. */
  releasePublished(release: Release): Promise<void>
}

export class ReleaseService {
  private readonly planningFailures: Array<(err: unknown, release: Release) => void> = []

  constructor(
    private readonly releases: ReleaseRepository,
    private readonly uploads: UploadArea,
    private readonly verifier: ReleaseMetadataVerifier,
    private readonly policy: ProvenanceGate,
    private readonly deltaPlanning: DeltaPlanning,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Hear when a publish could not queue its delta planning (the push succeeded anyway). */
  onDeltaPlanningFailed(listener: (err: unknown, release: Release) => void): void {
    this.planningFailures.push(listener)
  }

  /**
   * Everything a push can be refused for that needs no bytes, so that CI hears it
   * before a multi-GB upload: names and version, the signing keys (or the whole
   * signed metadata, once there is one), the provenance policy (on the signed
   * provenance, or before signing on the declared one), and an existing release of
   * that version.
   */
  async preflight(p: ReleasePreflight): Promise<PreflightResult> {
    const input: ReleaseInput = { ...p, uploadId: '', sha256: p.sha256 ?? '' }
    checkReleaseInput(input)
    if (p.metadata !== undefined && p.sha256 !== undefined) await this.policy.enforce(p.name, (await this.verifier.verify(input)).provenance)
    else if (p.keyIds !== undefined) {
      await this.verifier.checkSigners(p.keyIds)
      await this.policy.enforce(p.name, p.provenance)
    } else await this.verifier.verify(input) // RELEASE_METADATA_REQUIRED
    const existing = await this.releases.findByNameVersion(p.name, p.version)
    if (!existing) return { existing: null }
    // without a hash, only the fields CI declared can tell a different release apart
    if (!sameRelease(existing, { ...input, sha256: p.sha256 ?? existing.sha256 })) throw exists(existing, input)
    return { existing }
  }

  /**
   * The preflight of a tus creation request that carries the signed release metadata
   * (Upload-Metadata `release`): a client that is not `slipway push` is refused before
   * its first byte too. The pushed fields are the signed ones; the declared upload
   * length must be the signed length.
   */
  async preflightUpload(envelopeText: string, uploadLength: number | undefined): Promise<PreflightResult> {
    let envelope: { signed?: unknown }
    let signed: ReturnType<typeof parseRelease>['release']
    try {
      envelope = JSON.parse(envelopeText) as { signed?: unknown }
      signed = parseRelease(envelope.signed).release
    } catch (e) {
      if (e instanceof TrustError) throw e
      throw new TrustError('DOC_MALFORMED', `the release metadata of the upload is not JSON: ${(e as Error).message}`)
    }
    if (uploadLength !== undefined && uploadLength !== signed.length)
      throw unprocessable('LENGTH_MISMATCH', 'the upload length differs from the signed length', { declared: signed.length, actual: uploadLength })
    return this.preflight({ ...signed, metadata: envelope })
  }

  async publish(input: ReleaseInput, by: Principal): Promise<PublishResult> {
    let verified: VerifiedReleaseMetadata
    try {
      checkReleaseInput(input)
      // Signatures first, even for a re-push: nothing unsigned is ever acknowledged.
      verified = await this.verifier.verify(input)
      // what CI signed, not what the push body says, must satisfy the policy
      await this.policy.enforce(input.name, verified.provenance)
      const existing = await this.releases.findByNameVersion(input.name, input.version)
      if (existing) return await this.repeat(existing, input)
    } catch (e) {
      // a refused push keeps none of its bytes (an outage is not a refusal: the push may be retried)
      if (isRefusal(e)) await this.uploads.remove(input.uploadId).catch(() => undefined)
      throw e
    }

    const upload = await this.uploads.get(input.uploadId)
    if (!upload) throw notFound('UPLOAD_NOT_FOUND', `no upload with id ${input.uploadId} (it may have expired)`)
    if (upload.size === undefined || upload.offset < upload.size)
      throw conflict('UPLOAD_INCOMPLETE', 'the upload is not finished; resume it first', {
        received: upload.offset,
        size: upload.size ?? null,
      })
    try {
      if (upload.size !== input.length)
        throw unprocessable('LENGTH_MISMATCH', 'the uploaded length differs from the declared length', {
          declared: input.length,
          actual: upload.size,
        })
      const actual = upload.sha256 ? { sha256: upload.sha256 } : await sha256Of(await this.uploads.read(upload.id))
      if (actual.sha256 !== input.sha256)
        throw unprocessable('DIGEST_MISMATCH', 'the uploaded bytes do not hash to the declared sha256', {
          declared: input.sha256,
          actual: actual.sha256,
        })
    } catch (e) {
      // the bytes are not what CI said they are: nothing of them may stay
      await this.uploads.remove(upload.id)
      throw e
    }

    await this.uploads.commit(upload.id, { sha256: input.sha256, length: input.length })
    const release: Release = {
      id: randomUUID(),
      name: input.name,
      version: input.version,
      kind: input.kind,
      hardware: input.hardware,
      sha256: input.sha256,
      length: input.length,
      securityVersion: input.securityVersion,
      provenance: verified.provenance,
      metadata: verified.metadata,
      createdBy: by.kind === 'token' ? by.tokenId : by.deviceId,
      createdAt: this.now().toISOString(),
    }
    if ((await this.releases.insert(release)) === 'duplicate') {
      // another replica bound the same name+version between our check and insert
      const winner = await this.releases.findByNameVersion(input.name, input.version)
      if (!winner) throw new SlipwayError('internal', 'RELEASE_RACE', 'release vanished during insert')
      return this.repeat(winner, input)
    }
    // plan deltas from what the fleet runs; never hold up (or fail) the push for it
    void this.deltaPlanning.releasePublished(release).catch((err: unknown) => {
      for (const l of this.planningFailures) l(err, release)
    })
    return { release, created: true }
  }

  private async repeat(existing: Release, input: ReleaseInput): Promise<PublishResult> {
    if (!sameRelease(existing, input)) throw exists(existing, input)
    // identical re-push: the staged copy is redundant
    await this.uploads.remove(input.uploadId)
    return { release: existing, created: false }
  }

  async get(id: string): Promise<Release> {
    const r = await this.releases.findById(id)
    if (!r) throw notFound('RELEASE_NOT_FOUND', `no release with id ${id}`)
    return r
  }

  list(q: ReleaseListQuery): Promise<Release[]> {
    return this.releases.list(q)
  }
}

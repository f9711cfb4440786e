/**
 * Binds a finished upload to release metadata. The bytes are re-hashed (or their
 * streaming hash reused) and must match the declared sha256 and length; only then
 * are they committed to the blob store and the release row written. A failed bind
 * leaves no release and reclaims the staged bytes. Where the bytes are staged (a
 * folder, or S3 multipart) and how they move into the blob store is the upload area's.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { conflict, notFound, SlipwayError, unprocessable } from './errors.js'
import type { Principal, Release } from './model.js'
import { checkReleaseInput, type ReleaseInput } from './release-input.js'
import type { ReleaseListQuery, ReleaseRepository } from './repositories.js'
import type { ReleaseMetadataVerifier, UploadArea } from './upload-area.js'

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

export class ReleaseService {
  constructor(
    private readonly releases: ReleaseRepository,
    private readonly uploads: UploadArea,
    private readonly verifier: ReleaseMetadataVerifier,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async publish(input: ReleaseInput, by: Principal): Promise<PublishResult> {
    checkReleaseInput(input)
    // Signatures first, even for a re-push: nothing unsigned is ever acknowledged.
    const verified = await this.verifier.verify(input)
    const existing = await this.releases.findByNameVersion(input.name, input.version)
    if (existing) return this.repeat(existing, input)

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
    return { release, created: true }
  }

  private async repeat(existing: Release, input: ReleaseInput): Promise<PublishResult> {
    if (!sameRelease(existing, input))
      throw conflict('RELEASE_EXISTS', `${input.name} ${input.version} already exists with other content`, {
        id: existing.id,
        sha256: existing.sha256,
      })
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

/**
 * SBOMs as blobs (issue 12 §5): CI stores the document by content address, signs its
 * sha256 as the release's `provenance.sbomDigest`, and operators fetch it through the
 * release it describes. The SBOM is trusted because the signed metadata names its digest.
 */
import type { Readable } from 'node:stream'
import { notFound } from '../errors.js'
import type { BlobInfo, BlobStore } from '../ports/infrastructure.js'
import type { ReleaseRepository } from '../ports/repositories.js'

/** `sha256:<hex>` (what `slipway push --sbom` signs) or bare hex; anything else is no digest. */
export function sbomSha256(digest: string | undefined): string | undefined {
  const m = /^(?:sha256:)?([0-9a-f]{64})$/.exec(digest ?? '')
  return m?.[1]
}

export class SbomService {
  constructor(
    private readonly releases: ReleaseRepository,
    private readonly blobs: BlobStore,
  ) {}

  /** Idempotent: the same document stored twice is one blob. */
  store(content: Readable): Promise<BlobInfo> {
    return this.blobs.put(content)
  }

  /** The SBOM a release's signed provenance names; SBOM_NOT_FOUND when it names none or it was never pushed. */
  async forRelease(name: string, version: string): Promise<BlobInfo & { content: Readable }> {
    const r = await this.releases.findByNameVersion(name, version)
    if (!r) throw notFound('RELEASE_NOT_FOUND', `no release ${name}@${version}`)
    const sha256 = sbomSha256(r.provenance.sbomDigest)
    const info = sha256 === undefined ? undefined : await this.blobs.stat(sha256)
    if (!sha256 || !info)
      throw notFound('SBOM_NOT_FOUND', `${name}@${version} names ${sha256 ? 'an SBOM that was never pushed' : 'no SBOM by sha256'}`, { sbomDigest: r.provenance.sbomDigest ?? null })
    return { ...info, content: await this.blobs.get(sha256) }
  }
}

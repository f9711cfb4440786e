/**
 * Deltas (DESIGN.md "Payloads and deltas"): asked for on demand or planned when a
 * release is published, built once per (source image, target image) by the
 * `build-delta` job (delta-build.ts), and offered to a device only when ready, i.e.
 * verified, signed by the online key, and small enough to pay.
 */
import { randomUUID } from 'node:crypto'
import { DeltaBuild, type BuildOutcome, type DeltaBuildOptions } from './delta-build.js'
import { invalid, notFound, SlipwayError, unprocessable } from '../errors.js'
import { JOBS } from '../jobs.js'
import type { DeltaRecord, DeltaVariant, Release } from '../model.js'
import type { BlobStore, FleetVersions, JobQueue, OnlineSigner, PatchBuilder } from '../ports/infrastructure.js'
import type { DeltaListQuery, DeltaRepository, ReleaseRepository } from '../ports/repositories.js'
import { DELTA_FORMAT_V1 } from './delta-formats.js'

export interface DeltaServiceOptions extends DeltaBuildOptions {
  /** deltas planned per published release: the N most installed source versions (0 = none) */
  topSources: number
}

/** What a device assignment carries when a delta is offered. */
export interface DeltaOffer {
  /** the signed delta metadata envelope, as JSON */
  metadata: unknown
  patchSha256: string
  patchLength: number
}

/** Re-sign metadata that expires within this many seconds before offering it. */
const RESIGN_MARGIN_SECONDS = 7 * 86400

export class DeltaService {
  private readonly builds: DeltaBuild

  constructor(
    private readonly deltas: DeltaRepository,
    private readonly releases: ReleaseRepository,
    private readonly queue: JobQueue,
    blobs: BlobStore,
    builder: PatchBuilder,
    private readonly signer: OnlineSigner,
    private readonly fleet: FleetVersions,
    private readonly opts: DeltaServiceOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.builds = new DeltaBuild(deltas, blobs, builder, signer, opts, now)
  }

  /** Listen to finished build tries (metrics). */
  onBuildFinished(listener: (o: BuildOutcome) => void): void {
    this.builds.listeners.push(listener)
  }

  /**
   * Asks for the delta from → to (release ids or `name@version`). A ready or
   * too-large delta is returned as it is; a failed one is queued again; otherwise
   * the build job is (re)enqueued under its content id, so concurrent requests,
   * from any replica, build once.
   */
  async request(fromRef: string, toRef: string): Promise<DeltaRecord> {
    const [from, to] = await Promise.all([this.resolve(fromRef), this.resolve(toRef)])
    checkPair(from, to)
    const at = this.now().toISOString()
    const { delta } = await this.deltas.insertOrGet({
      id: randomUUID(),
      fromReleaseId: from.id,
      toReleaseId: to.id,
      sourceSha256: from.sha256,
      targetSha256: to.sha256,
      targetLength: to.length,
      state: 'queued',
      builtBytes: 0,
      patchSha256: null,
      patchLength: null,
      compressedTargetLength: null,
      metadata: null,
      errorCode: null,
      errorMessage: null,
      attempts: 0,
      buildMs: null,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
    })
    if (delta.state === 'ready' || delta.state === 'too-large') return delta
    if (delta.state === 'failed')
      await this.deltas.transitionOne(delta.id, ['failed'], { state: 'queued', builtBytes: 0, errorCode: null, errorMessage: null, finishedAt: null, updatedAt: at })
    await this.enqueueBuild(delta)
    return this.get(delta.id)
  }

  async get(id: string): Promise<DeltaRecord> {
    const d = await this.deltas.findById(id)
    if (!d) throw notFound('DELTA_NOT_FOUND', `no delta with id ${id}`)
    return d
  }

  list(q: DeltaListQuery): Promise<DeltaRecord[]> {
    return this.deltas.list(q)
  }

  /** The patches in other formats of each delta's pair (DeltaVariant), by delta id: what operators see beside the row. */
  async variantsOf(rows: readonly DeltaRecord[]): Promise<Map<string, DeltaVariant[]>> {
    const all = await this.deltas.variantsOf(rows)
    return new Map(rows.map((d) => [d.id, all.filter((v) => v.sourceSha256 === d.sourceSha256 && v.targetSha256 === d.targetSha256)]))
  }

  /**
   * The delta a device with `installedSha256` gets for `target`, or undefined (full
   * image). Only ready deltas are offered: built, verified, and patchLength <
   * offerRatio × the compressed full image. A pair can have one patch per format
   * (DeltaVariant): the device gets the smallest in a format its applier takes
   * (`formats`, default version 1 only). Metadata close to expiry is re-signed.
   */
  async offerFor(installedSha256: string, target: Release, formats: readonly string[] = [DELTA_FORMAT_V1]): Promise<DeltaOffer | undefined> {
    const content = { sourceSha256: installedSha256, targetSha256: target.sha256 }
    const rows = await this.deltas.listByContent(installedSha256, target.sha256)
    const ready = rows.find((d) => d.state === 'ready' && d.metadata !== null && d.patchSha256 !== null && d.patchLength !== null)
    if (!ready) return undefined
    const pays = (length: number) => ready.compressedTargetLength !== null && length < this.opts.offerRatio * ready.compressedTargetLength
    const candidates: Array<{ metadata: string; patchSha256: string; patchLength: number; variant?: string }> = []
    const primary = { metadata: ready.metadata as string, patchSha256: ready.patchSha256 as string, patchLength: ready.patchLength as number }
    if (formats.includes(formatOf(primary.metadata)) && pays(primary.patchLength)) candidates.push(primary)
    if (formats.some((f) => f !== DELTA_FORMAT_V1)) {
      for (const v of await this.deltas.variantsOf([content])) if (formats.includes(v.format) && pays(v.patchLength)) candidates.push({ ...v, variant: v.format })
    }
    const best = candidates.sort((a, b) => a.patchLength - b.patchLength)[0]
    if (!best) return undefined
    let metadata = JSON.parse(best.metadata) as { signed?: { expires?: string } }
    const expires = Date.parse(metadata.signed?.expires ?? '')
    if (!(expires - this.now().getTime() > RESIGN_MARGIN_SECONDS * 1000)) {
      const text = (await this.builds.sign({ ...content, ...best }, formatOf(best.metadata))).toString('utf8')
      const at = this.now().toISOString()
      if (best.variant === undefined) await this.deltas.transitionOne(ready.id, ['ready'], { metadata: text, updatedAt: at })
      else await this.deltas.updateVariantMetadata(content, best.variant, text, at)
      metadata = JSON.parse(text)
    }
    return { metadata, patchSha256: best.patchSha256, patchLength: best.patchLength }
  }

  /** Called after a push: plans deltas in a job, so the push response never waits for it. */
  async releasePublished(release: Release): Promise<void> {
    if (this.opts.topSources === 0) return
    await this.queue.enqueue(JOBS.planDeltas, { releaseId: release.id }, { jobId: `plan-${release.id}` })
  }

  /** The plan job: a delta from each of the top N versions the fleet runs to this release. */
  async plan(releaseId: string): Promise<DeltaRecord[]> {
    const release = await this.releases.findById(releaseId)
    if (!release || this.opts.topSources === 0) return []
    const top = await this.fleet.topInstalled(release.name, release.hardware, this.opts.topSources)
    const out: DeltaRecord[] = []
    for (const { releaseId: from } of top.slice(0, this.opts.topSources)) {
      if (from === release.id) continue
      try {
        out.push(await this.request(from, release.id))
      } catch (e) {
        // a source that cannot have a delta (another kind, identical content) is skipped, not retried
        if (!(e instanceof SlipwayError) || e.kind === 'internal' || e.kind === 'unavailable') throw e
      }
    }
    return out
  }

  /** The build job (see delta-build.ts). */
  build(content: { sourceSha256: string; targetSha256: string }, attempt: number): Promise<void> {
    return this.builds.run(content, attempt)
  }

  private async enqueueBuild(d: DeltaRecord): Promise<void> {
    await this.queue.enqueue(
      JOBS.buildDelta,
      { sourceSha256: d.sourceSha256, targetSha256: d.targetSha256 },
      { jobId: `delta-${d.sourceSha256}-${d.targetSha256}`, attempts: this.opts.attempts ?? 3, backoffMs: this.opts.backoffMs ?? 30_000 },
    )
  }

  /** A release id, or `name@version`. */
  private async resolve(ref: string): Promise<Release> {
    const at = ref.indexOf('@')
    const r = at > 0 ? await this.releases.findByNameVersion(ref.slice(0, at), ref.slice(at + 1)) : await this.releases.findById(ref)
    if (!r) throw notFound('RELEASE_NOT_FOUND', `no release ${ref}`, { release: ref })
    return r
  }
}

/** the `format` of signed delta metadata; metadata without one predates format 2 */
function formatOf(metadata: string): string {
  const signed = (JSON.parse(metadata) as { signed?: { format?: unknown } }).signed
  return typeof signed?.format === 'string' ? signed.format : DELTA_FORMAT_V1
}

function checkPair(from: Release, to: Release): void {
  if (from.id === to.id) throw invalid('DELTA_SAME_RELEASE', 'from and to are the same release', { release: from.id })
  if (from.name !== to.name)
    throw unprocessable('DELTA_NAME_MISMATCH', 'a delta joins two versions of one release name', { from: from.name, to: to.name })
  if (from.kind !== to.kind) throw unprocessable('DELTA_KIND_MISMATCH', 'the releases are of different kinds', { from: from.kind, to: to.kind })
  if (from.sha256 === to.sha256)
    throw unprocessable('DELTA_SAME_CONTENT', 'both releases hold the same image: there is nothing to patch', { sha256: from.sha256 })
}

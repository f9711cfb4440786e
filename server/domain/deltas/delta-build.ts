/**
 * One try of the `build-delta` job for a (source image, target image) pair: every
 * delta row of that pair moves together, queued → building → ready | too-large |
 * failed, through compare-and-set updates so that racing workers cannot undo each
 * other. A permanent failure fails the job at once (PermanentJobError); a transient
 * one puts the rows back to queued and lets the queue retry with backoff.
 */
import { expiresIn } from '../../../signing/metadata/common.js'
import { DELTA_LIFETIME_SECONDS } from '../../../signing/online-documents.js'
import { isTrustError } from '../../../signing/verify/index.js'
import { DeltaBuildFailure, SlipwayError } from '../errors.js'
import type { DeltaRecord, DeltaState } from '../model.js'
import { PermanentJobError, type BlobStore, type BuiltPatch, type OnlineSigner, type PatchBuilder } from '../ports/infrastructure.js'
import type { DeltaChanges, DeltaRepository } from '../ports/repositories.js'

export interface DeltaBuildOptions {
  /** offer a delta only when patchLength < offerRatio × the compressed full image */
  offerRatio: number
  /** build tries per request, including the first (default 3) */
  attempts?: number
  /** retry n waits backoffMs × 2^(n-1), milliseconds (default 30 s) */
  backoffMs?: number
  /** minimum time between two progress writes, milliseconds (default 2000) */
  progressEveryMs?: number
}

export type BuildResult = 'ready' | 'too-large' | 'failed' | 'retry'

export interface BuildOutcome {
  result: BuildResult
  seconds: number
  /** ready only: target length − patch length, what each device that takes the delta saves */
  savedBytes?: number
  errorCode?: string
}

type Content = { sourceSha256: string; targetSha256: string }

const PENDING: readonly DeltaState[] = ['queued', 'building']

export class DeltaBuild {
  readonly listeners: Array<(o: BuildOutcome) => void> = []

  constructor(
    private readonly deltas: DeltaRepository,
    private readonly blobs: BlobStore,
    private readonly builder: PatchBuilder,
    private readonly signer: OnlineSigner,
    private readonly opts: DeltaBuildOptions,
    private readonly now: () => Date,
  ) {}

  get attempts(): number {
    return this.opts.attempts ?? 3
  }

  async run(content: Content, attempt: number): Promise<void> {
    const rows = await this.deltas.listByContent(content.sourceSha256, content.targetSha256)
    const pending = rows.filter((d) => PENDING.includes(d.state))
    if (pending.length === 0) return
    // another release pair with the same two images was built already: same patch, same verdict
    const done = rows.find((d) => d.state === 'ready' || d.state === 'too-large')
    if (done) {
      await this.deltas.transition(content, PENDING, { ...resultFields(done), updatedAt: this.iso() })
      return
    }
    const tries = Math.max(...pending.map((d) => d.attempts)) + 1
    await this.deltas.transition(content, PENDING, { state: 'building', attempts: tries, builtBytes: 0, updatedAt: this.iso() })
    const started = Date.now()
    try {
      const built = await this.builder.build(content, this.progressWriter(content))
      await this.finish(content, built, pending[0] as DeltaRecord, started)
    } catch (e) {
      await this.fail(content, e, attempt, started)
    }
  }

  /** Signed delta metadata for a built patch in `format` (wire bytes), valid for the standard lifetime from this service's clock. */
  sign(d: { sourceSha256: string; targetSha256: string; patchSha256: string; patchLength: number }, format: string): Promise<Buffer> {
    return this.signer.signDelta(
      { sourceSha256: d.sourceSha256, targetSha256: d.targetSha256, patchSha256: d.patchSha256, patchLength: d.patchLength, format },
      { expires: expiresIn(DELTA_LIFETIME_SECONDS, this.now()) },
    )
  }

  private async finish(content: Content, built: BuiltPatch, row: DeltaRecord, started: number): Promise<void> {
    const metadata = (await this.sign({ ...content, patchSha256: built.patchSha256, patchLength: built.patchLength }, built.format)).toString('utf8')
    // DESIGN.md: offered only when smaller than (a fraction of) the full compressed image;
    // each format's patch on its own (a format-2 patch can pay where format 1 does not)
    const pays = (length: number) => length < this.opts.offerRatio * built.compressedTargetLength
    const variants = built.variants.filter((v) => pays(v.patchLength))
    const offered = pays(built.patchLength) || variants.length > 0
    const at = this.iso()
    const signed = await Promise.all(
      variants.map(async (v) => ({
        format: v.format,
        patchSha256: v.patchSha256,
        patchLength: v.patchLength,
        metadata: (await this.sign({ ...content, ...v }, v.metadataFormat)).toString('utf8'),
        updatedAt: at,
      })),
    )
    // variants first: a row is ready only once every patch it offers can be found
    await this.deltas.replaceVariants(content, signed)
    await this.deltas.transition(content, ['building'], {
      state: offered ? 'ready' : 'too-large',
      builtBytes: row.targetLength,
      patchSha256: built.patchSha256,
      patchLength: built.patchLength,
      compressedTargetLength: built.compressedTargetLength,
      metadata,
      errorCode: null,
      errorMessage: null,
      buildMs: built.ms,
      updatedAt: at,
      finishedAt: at,
    })
    // a patch that is never offered is not worth its storage (its sizes and metadata stay on the row)
    const unused = [built, ...built.variants].filter((p) => !pays(p.patchLength)).map((p) => p.patchSha256)
    await Promise.all(unused.map((sha) => this.blobs.delete(sha).catch(() => undefined)))
    const smallest = Math.min(...[built, ...variants].filter((p) => pays(p.patchLength)).map((p) => p.patchLength))
    this.emit({
      result: offered ? 'ready' : 'too-large',
      seconds: (Date.now() - started) / 1000,
      ...(offered ? { savedBytes: row.targetLength - smallest } : {}),
    })
  }

  private async fail(content: Content, e: unknown, attempt: number, started: number): Promise<never> {
    // our codes, and the signer's (PKCS11_*, SIGNER_* when the HSM is down); anything else is generic
    const code = e instanceof SlipwayError || isTrustError(e) ? e.code : 'DELTA_BUILD_ERROR'
    const message = e instanceof Error ? e.message : String(e)
    const permanent = e instanceof DeltaBuildFailure && e.permanent
    const last = permanent || attempt >= this.attempts
    const at = this.iso()
    await this.deltas.transition(content, ['building'], {
      state: last ? 'failed' : 'queued',
      errorCode: code,
      errorMessage: message.slice(0, 2000),
      updatedAt: at,
      finishedAt: last ? at : null,
    })
    this.emit({ result: last ? 'failed' : 'retry', seconds: (Date.now() - started) / 1000, errorCode: code })
    if (permanent) throw new PermanentJobError(`${code}: ${message}`, { cause: e })
    throw e
  }

  /** Progress goes to the database at most every progressEveryMs, and never fails the build. */
  private progressWriter(content: Content): (builtBytes: number) => void {
    let last = 0
    return (builtBytes) => {
      const t = Date.now()
      if (t - last < (this.opts.progressEveryMs ?? 2000)) return
      last = t
      void this.deltas.transition(content, ['building'], { builtBytes, updatedAt: this.iso() }).catch(() => undefined)
    }
  }

  private emit(o: BuildOutcome): void {
    for (const l of this.listeners) l(o)
  }

  private iso(): string {
    return this.now().toISOString()
  }
}

function resultFields(d: DeltaRecord): DeltaChanges {
  return {
    state: d.state,
    builtBytes: d.builtBytes,
    patchSha256: d.patchSha256,
    patchLength: d.patchLength,
    compressedTargetLength: d.compressedTargetLength,
    metadata: d.metadata,
    errorCode: null,
    errorMessage: null,
    buildMs: d.buildMs,
    finishedAt: d.finishedAt,
  }
}

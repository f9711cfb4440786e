/**
 * The PatchBuilder port on the delta engine (server/delta) and a BlobStore: both
 * images to local files, makeDelta (in a process of its own) in the configured memory budget (it verifies its
 * own output by applying it), the patch into the blob store, the compressed target
 * size beside it. Scratch files live in one folder per build, removed whatever happens.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { formatName } from '../../../client-sdk/src/delta/index.js'
import { DeltaBuildError, downgradeToV1, makeDeltaIsolated, verifyPatch } from '../../delta/index.js'
import { deltaOfferFormat } from '../../domain/deltas/delta-formats.js'
import { DeltaBuildFailure, SlipwayError } from '../../domain/errors.js'
import type { BlobStore, BuiltPatch, PatchBuilder } from '../../domain/ports/infrastructure.js'
import { compressedSize } from './compressed-size.js'
import { localImage, mismatch } from './local-image.js'

export interface BlobPatchBuilderOptions {
  /** memory one build may use, bytes */
  memoryBudget: number
  /** scratch folder (temp copies of S3 images, bsdiff windows, the patch before it is stored) */
  workDir: string
  /**
   * 2: also diff inside compressed members (format v2), with member codec 2 (puff: any
   * deflate stream, re-written from its recorded bits on any device that reports `puff`).
   * A patch that has MEMBER ops is stored twice: as version 2 (a variant, offer format
   * `slipway-delta-v2+puff`) and as its version-1 twin (MEMBER ops replaced by the
   * member's bytes), which every device takes.
   * 3: as 2, with sparse diff streams (smaller, and faster to apply); every such patch is
   * stored as version 3 (offer format `slipway-delta-v3` or `slipway-delta-v3+puff`) and
   * as its version-1 twin (diff streams written out dense, MEMBER ops as above). The default.
   * 1: version-1 patches only.
   */
  formatVersion?: 1 | 2 | 3
}

export class BlobPatchBuilder implements PatchBuilder {
  constructor(
    private readonly blobs: BlobStore,
    private readonly opts: BlobPatchBuilderOptions,
  ) {}

  async build(input: { sourceSha256: string; targetSha256: string }, onProgress?: (builtBytes: number) => void): Promise<BuiltPatch> {
    await mkdir(this.opts.workDir, { recursive: true })
    const dir = await mkdtemp(join(this.opts.workDir, 'build-'))
    try {
      const source = await localImage(this.blobs, input.sourceSha256, 'source', dir)
      const target = await localImage(this.blobs, input.targetSha256, 'target', dir)
      const patchPath = join(dir, 'patch')
      const [made, compressed] = await Promise.all([
        // in a process of its own: what the build's allocator keeps is not the server's to keep
        makeDeltaIsolated(source, target, patchPath, {
          memoryBudget: this.opts.memoryBudget,
          tmpDir: dir,
          formatVersion: this.opts.formatVersion ?? 3,
          // puff (and in format 3 its spooled form, for members over 4 MiB decoded): codec 1
          // (re-encode with zlib) is smaller on zlib-made members but only for devices with this
          // server's zlib, and Debian's GNU-gzip members never re-encode
          memberCodecs: (this.opts.formatVersion ?? 3) === 3 ? ['puff', 'spool'] : ['puff'],
          ...(onProgress ? { onProgress: (done: number) => onProgress(done) } : {}),
        }).catch((e: unknown) => {
          throw translate(e)
        }),
        compressedSize(target),
      ])
      if (made.sourceSha256 !== input.sourceSha256) throw mismatch('source', input.sourceSha256, made.sourceSha256)
      if (made.targetSha256 !== input.targetSha256) throw mismatch('target', input.targetSha256, made.targetSha256)
      const variants: BuiltPatch['variants'] = []
      let primary = { path: patchPath, length: made.size }
      if (made.formatVersion > 1) {
        // format 2 or 3 written: its version-1 twin is the patch every applier takes
        const twinPath = join(dir, 'patch-v1')
        const twin = await downgradeToV1(patchPath, target, twinPath).catch((e: unknown) => {
          throw translate(e)
        })
        if (twin) {
          await verifyPatch(source, twinPath, made.targetSha256).catch((e: unknown) => {
            throw translate(e)
          })
          variants.push({ format: deltaOfferFormat(made.formatVersion, made.memberCodecs), metadataFormat: formatName(made.formatVersion), ...(await this.store(patchPath, made.size)) })
          primary = { path: twinPath, length: twin.size }
        }
      }
      const stored = await this.store(primary.path, primary.length)
      return { ...stored, format: formatName(1), variants, compressedTargetLength: compressed, ms: made.ms, peakRss: made.peakRss }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  private async store(path: string, length: number): Promise<{ patchSha256: string; patchLength: number }> {
    const patchSha256 = await sha256File(path)
    await this.blobs.putFile(path, { sha256: patchSha256, length }, { consume: true })
    return { patchSha256, patchLength: length }
  }
}

/** Builder errors keep their code; bad input and a patch that does not verify are not worth retrying. */
function translate(e: unknown): unknown {
  if (!(e instanceof DeltaBuildError)) return e instanceof SlipwayError ? e : new DeltaBuildFailure('DELTA_BUILD_ERROR', String((e as Error)?.message ?? e), false, { cause: e })
  const permanent = e.code === 'DELTA_BUILD_INPUT' || e.code === 'DELTA_BUILD_VERIFY'
  return new DeltaBuildFailure(e.code, e.message, permanent, { cause: e })
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

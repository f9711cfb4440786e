import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { applyDeltaStream, openSource, OpType } from '../../client-sdk/src/delta/index.js'
import { BlockIndex } from './block-index.js'
import { DeltaBuildError } from './bsdiff-window.js'
import { copyOp, type EncodedOp } from './encode-op.js'
import { Matcher } from './matcher.js'
import { carveMembers, encodeMember, type MemberCodecStats, type MemberItem } from './member-op.js'
import { MEMBER_MAX_RAW, pairMembers, scanMembers, type MemberCodecName } from './members.js'
import { PatchWriter } from './patch-writer.js'
import { plan, type PlanItem } from './planner.js'
import { buildRegion, emptyStats, readAt, type BuildStats, type RegionContext } from './region.js'
import { buildBudget } from './budget.js'
import { Semaphore } from './semaphore.js'
import { SourceSorter } from './source-sorter.js'
import { RegionPool } from './region-pool.js'

export interface MakeDeltaOptions {
  /** memory the build may use, bytes (default 1 GiB); windows and parallelism shrink to fit */
  memoryBudget?: number
  /** op builds in flight (default: the machine's cores) */
  concurrency?: number
  /** brotli quality 1–11 of diff, extra and literal data (default 9: within 1% of 11, ~50× faster) */
  quality?: number
  /** apply the finished patch and check the target sha256 before returning (default true) */
  verify?: boolean
  /** directory for the build's scratch files (default: the OS temp dir) */
  tmpDir?: string
  /**
   * 2: also diff inside compressed members (gzip and zip-entry deflate streams that zlib
   * re-encodes bit-exactly), writing format version 2 when any member op pays. Only for
   * devices whose agent reports version 2 (default 1: every applier takes it).
   * 3: as 2, and diff streams are sparse records (DELTA-FORMAT.md "Sparse diff"): smaller,
   * and the device no longer decodes and adds the zero bytes that are most of an image's diff;
   * new bytes that are rows of fixed-size blocks (quantized weights) are stored by column
   * (TRANSPOSED) where that packs smaller.
   */
  formatVersion?: 1 | 2 | 3
  /**
   * Member codecs version 2 may use: 'deflate' (codec 1) re-encodes with zlib, so only
   * devices whose zlib is the builder's can apply it; 'puff' (codec 2) needs no zlib but an
   * applier that reports it. With both, each member takes the smaller op. 'spool' (codec
   * 3, format 3 only) is codec 2 for members that decode to 4–48 MiB (a gzip kernel, an
   * initramfs), which the device runs through a spool file. Default ['deflate']: the patch
   * every version-2 applier takes (the offer side keys a patch by the codecs it uses:
   * `memberCodecs` in the result).
   */
  memberCodecs?: readonly MemberCodecName[]
  /** called as ops are written: target bytes encoded so far, and the target size */
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface MakeDeltaResult {
  /** patch size, bytes */
  size: number
  ms: number
  /** peak resident set of this process during the build, bytes */
  peakRss: number
  ops: number
  sourceSha256: string
  targetSha256: string
  stats: BuildStats & MemberCodecStats
  /**
   * the patch header's version: 3 when asked and a BSDIFF, MEMBER or TRANSPOSED op is in it, 2 when
   * asked and a MEMBER op is in it, else 1, whatever was asked
   */
  formatVersion: 1 | 2 | 3
  /**
   * What an applier needs beyond the format version: the member codecs the patch's MEMBER
   * ops use ([] for a version-1 patch). The server may offer the patch only to devices
   * that report each of them (server/domain/deltas/delta-formats.ts `deltaOfferFormat`).
   */
  memberCodecs: MemberCodecName[]
}

async function sha256File(path: string): Promise<Buffer> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest()
}

/**
 * Builds a delta that turns the image at oldPath into the image at newPath, in bounded
 * memory: a block index of the source, one streaming scan of the target, and changed
 * windows built in parallel (bsdiff runs on worker threads and brotli on the libuv pool, so both cores
 * work while the main thread scans). The patch is applied once before it is returned.
 */
export async function makeDelta(oldPath: string, newPath: string, patchPath: string, opts: MakeDeltaOptions = {}): Promise<MakeDeltaResult> {
  const started = Date.now()
  const [sourceSize, targetSize] = await Promise.all([stat(oldPath), stat(newPath)])
    .then((s) => s.map((x) => x.size) as [number, number])
    .catch((e: unknown) => {
      throw new DeltaBuildError('DELTA_BUILD_INPUT', `cannot read the images: ${String(e)}`, { cause: e })
    })
  if (opts.memberCodecs?.includes('spool') && opts.formatVersion !== 3) throw new DeltaBuildError('DELTA_BUILD_INPUT', "member codec 'spool' needs format version 3")
  const concurrency = Math.max(1, opts.concurrency ?? availableParallelism())
  const inflight = concurrency * 2
  const budget = buildBudget(opts.memoryBudget ?? 2 ** 30, sourceSize, concurrency, inflight)
  const [sourceSha, targetSha] = await Promise.all([sha256File(oldPath), sha256File(newPath)])
  const tmpDir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'slipway-delta-'))
  const source = await open(oldPath, 'r')
  const target = await open(newPath, 'r')
  const writer = await PatchWriter.create(patchPath)
  const stats: BuildStats & MemberCodecStats = { ...emptyStats(), membersDeflate: 0, membersPuff: 0, membersPuffable: 0, membersSpool: 0, membersSpoolable: 0 }
  const codecs = opts.memberCodecs ?? ['deflate']
  const ctx: RegionContext = {
    source,
    target,
    sourceSize,
    tmpDir,
    quality: opts.quality ?? 9,
    formatV3: opts.formatVersion === 3,
    bsdiffWindow: budget.bsdiffWindow,
    bsdiffMinGap: 16 * 1024,
    bsdiffSlots: new Semaphore(concurrency),
    sorter: new SourceSorter((at, n) => readAt(source, at, n), budget.sortCache),
    stats,
  }
  let ok = false
  let pool: RegionPool | undefined
  try {
    // region encodings run on worker threads: one per core, each with its own sorter. A
    // target of one window has one region at most: it is encoded here, without the ~0.4 s
    // the workers take to start
    if (targetSize > budget.window) pool = await RegionPool.start(concurrency, {
      sourcePath: oldPath,
      targetPath: newPath,
      sourceSize,
      tmpDir,
      quality: ctx.quality,
      formatV3: ctx.formatV3,
      bsdiffWindow: ctx.bsdiffWindow,
      bsdiffMinGap: ctx.bsdiffMinGap,
      sortCache: budget.sortCache,
    })
    const index = BlockIndex.build(source.fd, sourceSize, budget.blockSize)
    const matcher = new Matcher(index, source.fd, target.fd, sourceSize, targetSize)
    const planned = plan(matcher.matches(), targetSize, { window: budget.window, copyMin: 1 << 20, copyMax: 64 << 20 })
    const items = (opts.formatVersion ?? 1) >= 2 ? carveMembers(planned, findMembers(source.fd, sourceSize, target.fd, targetSize, stats, codecs)) : planned
    const pending: Promise<EncodedOp>[] = []
    let v3Ops = 0 // BSDIFF and MEMBER ops (sparse diff streams in version 3) and TRANSPOSED ops
    const append = async ({ op, payload }: EncodedOp) => {
      if (op.type === OpType.BSDIFF || op.type === OpType.MEMBER || op.type === OpType.TRANSPOSED) v3Ops++
      await writer.append(op, payload)
      opts.onProgress?.(writer.targetOffset, targetSize)
    }
    for (const item of items) {
      const job = encodeItem(item, ctx, pool)
      job.catch(() => {}) // awaited in order below; this only avoids an unhandled rejection meanwhile
      pending.push(job)
      // keep results in target order; bounded in-flight work is what bounds memory
      if (pending.length >= inflight) await append(await pending.shift()!)
      await yieldToLoop() // the scan is synchronous: let finished pool work continue
    }
    for (const p of pending) await append(await p)
    if (writer.targetOffset !== targetSize) throw new Error(`plan covered ${writer.targetOffset} of ${targetSize} bytes`)
    // a patch that needs nothing of a later version stays readable by every applier
    const version: 1 | 2 | 3 = opts.formatVersion === 3 && v3Ops > 0 ? 3 : stats.members > 0 ? 2 : 1
    const size = await writer.finish({ version, sourceSize, targetSize, sourceSha256: sourceSha, targetSha256: targetSha })
    ok = true
    await pool?.close() // its sorted ranges are not needed to verify
    pool = undefined
    if (opts.verify ?? true) await verifyPatch(oldPath, patchPath, targetSha.toString('hex'))
    return {
      size,
      ms: Date.now() - started,
      peakRss: process.resourceUsage().maxRSS * 1024,
      ops: writer.opCount,
      sourceSha256: sourceSha.toString('hex'),
      targetSha256: targetSha.toString('hex'),
      stats,
      formatVersion: version,
      memberCodecs: [
        ...(stats.membersDeflate > 0 ? (['deflate'] as const) : []),
        ...(stats.membersPuff > 0 ? (['puff'] as const) : []),
        ...(stats.membersSpool > 0 ? (['spool'] as const) : []),
      ],
    }
  } finally {
    await pool?.close()
    if (!ok) await writer.abort().catch(() => {})
    await Promise.all([source.close(), target.close(), rm(tmpDir, { recursive: true, force: true })])
    if (!ok) await rm(patchPath, { force: true })
  }
}

/**
 * Spooled members (codec 3) that decode to more stay byte-diffed: the builder holds both
 * puffs of one and the suffix array of the old one (~9 bytes per byte) while it diffs them.
 */
const MEMBER_SPOOL_MAX_RAW = 48 << 20

/** Source members first: a target member the source holds unchanged is not worth proving (the matcher copies it). */
function findMembers(sourceFd: number, sourceSize: number, targetFd: number, targetSize: number, stats: BuildStats & MemberCodecStats, codecs: readonly MemberCodecName[]) {
  const scan = { maxRawBytes: MEMBER_MAX_RAW, minBytes: 256, ...(codecs.includes('spool') ? { maxSpoolRawBytes: MEMBER_SPOOL_MAX_RAW } : {}) }
  const source = scanMembers(sourceFd, sourceSize, { ...scan, prove: false })
  const target = scanMembers(targetFd, targetSize, { ...scan, prove: true, codecs, unchanged: new Set(source.map((m) => m.sha)) })
  stats.membersFound = target.length
  stats.membersProven = target.filter((m) => m.params).length
  stats.membersPuffable = target.filter((m) => m.puffLen !== undefined).length
  stats.membersSpoolable = target.filter((m) => m.spoolLen !== undefined).length
  return pairMembers(source, target)
}

async function encodeItem(item: PlanItem | MemberItem, ctx: RegionContext, pool: RegionPool | undefined): Promise<EncodedOp> {
  if (item.kind === 'member') return encodeMember(item, ctx, `m${item.t}`)
  if (item.kind === 'copy') {
    ctx.stats.copy += item.len
    return copyOp(item.t, item.s, item.len, await hashRange(ctx, item.t, item.len))
  }
  if (!pool) return buildRegion(item.t, item.len, item.pieces, ctx, `r${item.t}`) // its stats go straight into ctx.stats
  const { op, stats } = await pool.run(item.t, item.len, item.pieces)
  for (const k of Object.keys(stats) as Array<keyof BuildStats>) ctx.stats[k] += stats[k]
  return op
}

async function hashRange(ctx: RegionContext, at: number, len: number): Promise<Buffer> {
  const h = createHash('sha256')
  for (let done = 0; done < len; ) {
    const n = Math.min(4 << 20, len - done)
    h.update(await readAt(ctx.target, at + done, n))
    done += n
  }
  return h.digest()
}

/** Applies the patch with the device's own code into a hashing sink: no second copy of the image on disk. */
export async function verifyPatch(oldPath: string, patchPath: string, targetSha: string): Promise<void> {
  const source = await openSource(oldPath)
  try {
    await applyDeltaStream(
      { source, patch: createReadStream(patchPath, { highWaterMark: 1 << 20 }), sink: { write: async () => {} } },
      // a spooled member's file beside the patch, in the build's folder (the OS temp folder may be memory)
      { expectedTargetSha256: targetSha, spoolDir: dirname(patchPath) },
    )
  } catch (e) {
    throw new DeltaBuildError('DELTA_BUILD_VERIFY', `built patch does not rebuild the target: ${String(e)}`, { cause: e })
  } finally {
    await source.close()
  }
}

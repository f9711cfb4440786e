import type { DeltaProgress } from './progress.js'
import type { SourceReader, TargetSink } from './streams.js'

export interface ApplyLimits {
  /** largest op payload held in memory, bytes; the builder emits at most ~4 MiB */
  maxPayloadBytes: number
  /** largest output of one REPLACE or BSDIFF op (decoded in memory), bytes; the builder emits ≤ 4 MiB */
  maxOpTargetBytes: number
  /** largest source or target image accepted, bytes (16 TiB) */
  maxImageBytes: number
  /**
   * largest spooled member (codec 3), each of its compressed and puffed lengths, bytes: it
   * is decoded through a spool file (spoolDir), which holds up to four such lengths while
   * the op runs
   */
  maxMemberBytes: number
}

export const DEFAULT_LIMITS: ApplyLimits = { maxPayloadBytes: 16 << 20, maxOpTargetBytes: 16 << 20, maxImageBytes: 2 ** 44, maxMemberBytes: 256 << 20 }

export interface ApplyOptions {
  /** sha256 (hex) the caller trusts from signed release metadata: a patch for anything else is refused up front */
  expectedTargetSha256?: string
  /**
   * How the source is checked against the sha256 the patch was built from; a wrong source
   * is `DELTA_SOURCE_MISMATCH` in every mode.
   * - `true` (default): hashed whole before the target is opened for writing.
   * - `'alongside'`: hashed whole while the ops run, on the hash worker (see hashOnWorker),
   *   so it costs no time on two cores; found after some writes. Without a worker, as `true`.
   * - `false`: not read whole: each op's hash (or, with expectedPatchSha256, the image
   *   hash) checks the bytes made from it, and when one fails, or an op finds a source
   *   member it cannot use, the source is hashed then, to tell a wrong source from a
   *   corrupt patch.
   */
  verifySource?: boolean | 'alongside'
  /**
   * sha256 (hex) of the whole patch, from signed metadata (the assignment's `patchSha256`).
   * The patch is hashed as it is read, and one that differs is `DELTA_PATCH_HASH_MISMATCH`
   * once the ops are done (unless an op broke on it first, with its own code). With it
   * the ops' own sha256s are not computed: every op's bytes follow from the verified patch
   * and the source, and the image hash checks the result, so each target byte is hashed
   * once. With `verifySource: false` as well, nothing else is hashed (what the agent
   * does): a wrong source makes the image hash fail, and the source is hashed then to
   * name it. Not with `patchStartsAtResume` (the patch's start is never read): the ops are
   * then checked by their own sha256s, as without it.
   */
  expectedPatchSha256?: string
  /** progress recorded by an earlier, interrupted run of the same patch */
  resume?: DeltaProgress
  /** true when `patch` starts at resume.patchOffset (e.g. an HTTP Range request) instead of byte 0 */
  patchStartsAtResume?: boolean
  /** called at op boundaries after the sink is synced; persist it to resume after a crash */
  onProgress?: (p: DeltaProgress) => void | Promise<void>
  /** minimum bytes written between two progress records (default 64 MiB) */
  checkpointBytes?: number
  /**
   * @deprecated ignored: the applier reuses a fixed set of buffers and leaves no garbage
   * that needs a forced GC. Kept so existing callers still compile.
   */
  gcEveryBytes?: number
  /**
   * hash the target (each op and the whole image) on a worker thread; default: with two or
   * more cores and a target of 32 MiB or more. On one core a worker only adds its start-up.
   */
  hashOnWorker?: boolean
  /**
   * decode REPLACE and TRANSPOSED ops (256 KiB to 4 MiB) on a worker thread, one while
   * this thread decodes the next (see decode-worker.ts). Default: on the hash worker's
   * thread, when there is one, once 32 MiB of such ops have come. `true`: from the first
   * such op, on the hash worker or a thread of its own; `false`: never.
   */
  decodeOnWorker?: boolean
  limits?: Partial<ApplyLimits>
  /**
   * folder for the spool file of a spooled member (codec 3; a gzip kernel or initramfs too
   * large to decode in memory), which is unlinked as soon as it is created and so never
   * outlives its op. Default: the OS's temporary folder (applyDelta: the target's folder,
   * when the target is a file). Give one on disk, not a tmpfs: its bytes would be memory.
   */
  spoolDir?: string
}

export interface ApplyResult {
  targetSha256: string
  targetSize: number
  ops: number
  /** ops skipped because an earlier run had applied them */
  resumedOps: number
  /** ops decoded on the decode worker (decodeOnWorker) */
  workerOps: number
}

export interface ApplyInput {
  source: SourceReader
  patch: AsyncIterable<Uint8Array>
  sink: TargetSink
}

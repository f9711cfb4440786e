import { createHash } from 'node:crypto'
import { ByteReader } from './byte-reader.js'
import { DeltaError } from './errors.js'
import { decodeHeader, decodeOpHeader, HEADER_SIZE, OP_HEADER_SIZE, type DeltaHeader } from './format.js'
import { OpRunner } from './ops.js'
import { decodeProgress, type DeltaProgress } from './progress.js'
import { IO_CHUNK, readExactly, TargetWriter, type SourceReader, type TargetSink } from './streams.js'

export interface ApplyLimits {
  /** largest op payload held in memory, bytes; the builder emits at most ~4 MiB */
  maxPayloadBytes: number
  /** largest output of one REPLACE or BSDIFF op (decoded in memory), bytes; the builder emits ≤ 4 MiB */
  maxOpTargetBytes: number
  /** largest source or target image accepted, bytes (16 TiB) */
  maxImageBytes: number
}

export const DEFAULT_LIMITS: ApplyLimits = { maxPayloadBytes: 16 << 20, maxOpTargetBytes: 16 << 20, maxImageBytes: 2 ** 44 }

export interface ApplyOptions {
  /** sha256 (hex) the caller trusts from signed release metadata: a patch for anything else is refused up front */
  expectedTargetSha256?: string
  /** hash the source before touching the target (default true); per-op hashes still catch a bad source otherwise */
  verifySource?: boolean
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
  limits?: Partial<ApplyLimits>
}

export interface ApplyResult {
  targetSha256: string
  targetSize: number
  ops: number
  /** ops skipped because an earlier run had applied them */
  resumedOps: number
}

export interface ApplyInput {
  source: SourceReader
  patch: AsyncIterable<Uint8Array>
  sink: TargetSink
}

/**
 * Rebuilds the target in one pass over the patch: source read at random, target written
 * sequentially, every op and the whole image checked against their sha256.
 */
export async function applyDeltaStream({ source, patch, sink }: ApplyInput, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits }
  const reader = ByteReader.from(patch)
  const resume = opts.resume
  let headerBytes: Buffer
  if (resume && opts.patchStartsAtResume) {
    headerBytes = Buffer.from(resume.header, 'base64')
    reader.position = resume.patchOffset
  } else {
    const b = await reader.read(HEADER_SIZE)
    if (!b) throw new DeltaError('DELTA_TRUNCATED', 'patch ends inside its header')
    headerBytes = b
  }
  const header = decodeHeader(headerBytes)
  checkHeader(header, limits, opts.expectedTargetSha256)
  if (resume && !Buffer.from(resume.header, 'base64').equals(headerBytes)) {
    throw new DeltaError('DELTA_RESUME_MISMATCH', 'resume state belongs to another patch')
  }
  if (source.size < header.sourceSize) {
    throw new DeltaError('DELTA_SOURCE_MISMATCH', 'source image is smaller than the patch expects', {
      expected: header.sourceSize,
      actual: source.size,
    })
  }
  // 6: a wrong source is caught here, before the first byte of the target is written
  if (opts.verifySource ?? true) await verifySource(source, header)

  const image = createHash('sha256')
  let opIndex = 0
  if (resume) {
    decodeProgress(resume, header)
    await rehashPrefix(sink, image, resume)
    opIndex = resume.opsDone
    if (!opts.patchStartsAtResume) await skipOps(reader, header, resume)
  }
  const out = new TargetWriter(sink, image, resume?.targetOffset ?? 0)
  let sinceCheckpoint = 0
  const checkpointBytes = opts.checkpointBytes ?? 64 << 20
  // one payload buffer for the whole apply, grown to the largest op seen (≤ maxPayload)
  let payloadBuf = Buffer.alloc(0)
  const runner = new OpRunner(source, header.sourceSize, out, limits.maxOpTargetBytes)
  // the sync of the last checkpoint runs while the next ops are applied
  let syncing: Promise<void> | undefined

  try {
    for (; opIndex < header.opCount; opIndex++) {
      const op = await readOp(reader, header)
      if (op.targetOffset !== out.position || op.targetOffset + op.targetLength > header.targetSize) {
        throw new DeltaError('DELTA_CORRUPT', 'op does not continue the target where the previous one ended', {
          op: opIndex,
          targetOffset: op.targetOffset,
          expected: out.position,
        })
      }
      if (payloadBuf.length < op.payloadLength) payloadBuf = Buffer.allocUnsafe(op.payloadLength)
      const payload = payloadBuf.subarray(0, op.payloadLength)
      if (!(await reader.readInto(payload, op.payloadLength))) throw new DeltaError('DELTA_TRUNCATED', 'patch ends inside an op payload', { op: opIndex })
      // Every op is hashed on its own, COPY ops too, although with a checked source their
      // bytes are known: a flipped bit in a COPY op's recorded sha256 is still a corrupt
      // patch that must fail, and version 1 has nothing else that covers that field.
      out.op = createHash('sha256')
      await runner.run(op, payload)
      if (out.position !== op.targetOffset + op.targetLength) {
        throw new DeltaError('DELTA_CORRUPT', 'op produced the wrong number of bytes', { op: opIndex })
      }
      if (out.op && !out.op.digest().equals(op.sha256)) {
        throw new DeltaError('DELTA_OP_HASH_MISMATCH', `op ${opIndex} output does not match its sha256`, {
          op: opIndex,
          targetOffset: op.targetOffset,
        })
      }
      sinceCheckpoint += op.targetLength
      if (opts.onProgress && sinceCheckpoint >= checkpointBytes && opIndex + 1 < header.opCount) {
        sinceCheckpoint = 0
        await syncing // one sync at a time: progress records stay in order
        await out.flush()
        const record: DeltaProgress = {
          format: 1,
          header: headerBytes.toString('base64'),
          opsDone: opIndex + 1,
          patchOffset: reader.position,
          targetOffset: out.offset,
          prefixSha256: image.copy().digest('hex'),
        }
        // fdatasync covers every write issued before it: the record is true once it returns,
        // whatever is written meanwhile, so the apply goes on instead of waiting for the disk
        const onProgress = opts.onProgress
        syncing = (async () => {
          await sink.sync?.()
          await onProgress(record)
        })()
        syncing.catch(() => {}) // awaited at the next checkpoint or the end
      }
    }
    await out.flush()
    await syncing
  } finally {
    runner.close()
  }
  if (out.offset !== header.targetSize) {
    throw new DeltaError('DELTA_CORRUPT', 'ops do not cover the whole target', { written: out.offset, targetSize: header.targetSize })
  }
  if (!(await reader.atEnd())) throw new DeltaError('DELTA_CORRUPT', 'trailing bytes after the last op')
  const digest = image.digest()
  if (!digest.equals(header.targetSha256)) {
    throw new DeltaError('DELTA_TARGET_HASH_MISMATCH', 'rebuilt image does not match the target sha256', {
      expected: header.targetSha256.toString('hex'),
      actual: digest.toString('hex'),
    })
  }
  await sink.sync?.()
  return {
    targetSha256: digest.toString('hex'),
    targetSize: header.targetSize,
    ops: header.opCount,
    resumedOps: resume?.opsDone ?? 0,
  }
}

function checkHeader(h: DeltaHeader, limits: ApplyLimits, expectedTarget?: string) {
  if (expectedTarget && h.targetSha256.toString('hex') !== expectedTarget.toLowerCase()) {
    throw new DeltaError('DELTA_TARGET_MISMATCH', 'patch builds a different target than expected', {
      expected: expectedTarget,
      patchTarget: h.targetSha256.toString('hex'),
    })
  }
  const tooBig = (field: string, value: number, limit: number) =>
    new DeltaError('DELTA_SIZE_LIMIT', `${field} ${value} exceeds the limit ${limit}`, { field, value, limit })
  if (h.sourceSize > limits.maxImageBytes) throw tooBig('sourceSize', h.sourceSize, limits.maxImageBytes)
  if (h.targetSize > limits.maxImageBytes) throw tooBig('targetSize', h.targetSize, limits.maxImageBytes)
  if (h.maxPayload > limits.maxPayloadBytes) throw tooBig('maxPayload', h.maxPayload, limits.maxPayloadBytes)
  // every op writes at least one byte
  if (h.opCount > h.targetSize) throw new DeltaError('DELTA_CORRUPT', 'more ops than target bytes', { opCount: h.opCount })
}

async function readOp(reader: ByteReader, header: DeltaHeader) {
  const b = await reader.read(OP_HEADER_SIZE)
  if (!b) throw new DeltaError('DELTA_TRUNCATED', 'patch ends before its last op')
  const op = decodeOpHeader(b, header.version)
  if (op.payloadLength > header.maxPayload) {
    throw new DeltaError('DELTA_CORRUPT', 'op payload is larger than the header allows', {
      payloadLength: op.payloadLength,
      maxPayload: header.maxPayload,
    })
  }
  return op
}

async function verifySource(source: SourceReader, header: DeltaHeader) {
  const h = createHash('sha256')
  // two buffers: the next chunk is read while this one is hashed
  const bufs = [Buffer.allocUnsafe(IO_CHUNK), Buffer.allocUnsafe(IO_CHUNK)]
  const readChunk = (i: number, at: number) => {
    const chunk = bufs[i]!.subarray(0, Math.min(IO_CHUNK, header.sourceSize - at))
    return readExactly(source, chunk, at).then(() => chunk)
  }
  let next = header.sourceSize > 0 ? readChunk(0, 0) : undefined
  for (let at = 0, i = 0; next; at += IO_CHUNK, i ^= 1) {
    const chunk = await next
    next = at + IO_CHUNK < header.sourceSize ? readChunk(i ^ 1, at + IO_CHUNK) : undefined
    h.update(chunk)
  }
  if (!h.digest().equals(header.sourceSha256)) {
    throw new DeltaError('DELTA_SOURCE_MISMATCH', 'source image does not match the sha256 the patch was built from', {
      expected: header.sourceSha256.toString('hex'),
    })
  }
}

/** The image hash must cover the prefix written before the crash: re-read it and check it is what we wrote. */
async function rehashPrefix(sink: TargetSink, image: ReturnType<typeof createHash>, p: DeltaProgress) {
  if (!sink.read) throw new DeltaError('DELTA_RESUME_MISMATCH', 'this target cannot be read back, so it cannot resume')
  const buf = Buffer.allocUnsafe(IO_CHUNK)
  for (let at = 0; at < p.targetOffset; ) {
    const n = await sink.read(buf.subarray(0, Math.min(IO_CHUNK, p.targetOffset - at)), at)
    if (n === 0) throw new DeltaError('DELTA_RESUME_MISMATCH', 'target is shorter than the recorded progress')
    image.update(buf.subarray(0, n))
    at += n
  }
  if (image.copy().digest('hex') !== p.prefixSha256) {
    throw new DeltaError('DELTA_RESUME_MISMATCH', 'target prefix on disk differs from what was written; restart from scratch')
  }
}

async function skipOps(reader: ByteReader, header: DeltaHeader, p: DeltaProgress) {
  for (let i = 0; i < p.opsDone; i++) {
    const op = await readOp(reader, header)
    if (!(await reader.skip(op.payloadLength))) throw new DeltaError('DELTA_TRUNCATED', 'patch ends inside an op payload')
  }
  if (reader.position !== p.patchOffset) {
    throw new DeltaError('DELTA_RESUME_MISMATCH', 'recorded patch offset does not match the op boundary')
  }
}

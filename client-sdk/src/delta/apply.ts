import { createHash, type Hash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { ByteReader } from './byte-reader.js'
import { DeltaError } from './errors.js'
import { decodeHeader, decodeOpHeader, FORMAT_VERSION_3, HEADER_SIZE, OP_HEADER_SIZE, type DeltaHeader, type OpHeader } from './format.js'
import { DECODE_WORKER_AFTER_BYTES, DecodeWorker, WORKER_OP_BYTES } from './decode-worker.js'
import { createImageHasher, type ImageHasher, type OpHashFailure } from './image-hasher.js'
import { OpRunner } from './ops.js'
import { DEFAULT_LIMITS, type ApplyInput, type ApplyLimits, type ApplyOptions, type ApplyResult } from './apply-options.js'
import { decodeProgress, type DeltaProgress } from './progress.js'
import { IO_CHUNK, readExactly, TargetWriter, WRITE_CHUNK, type SourceReader, type TargetSink } from './streams.js'

/**
 * Rebuilds the target in one pass over the patch: source read at random, target written
 * sequentially, every op and the whole image checked against their sha256.
 */
export async function applyDeltaStream({ source, patch, sink }: ApplyInput, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits }
  const resume = opts.resume
  const expectedPatch = opts.expectedPatchSha256
  if (expectedPatch !== undefined && !/^[0-9a-fA-F]{64}$/.test(String(expectedPatch))) {
    throw new TypeError(`expectedPatchSha256 must be a hex sha256, not ${JSON.stringify(expectedPatch)?.slice(0, 80)}`)
  }
  // the patch is hashed whole only when it is read from its first byte
  const patchHash = expectedPatch !== undefined && !(resume && opts.patchStartsAtResume) ? createHash('sha256') : undefined
  const reader = ByteReader.from(patchHash ? hashedAsRead(patch, patchHash) : patch)
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
  const hasher = await createImageHasher(header.targetSize, opts.hashOnWorker)
  // anything but false or 'alongside' (a JavaScript caller's 1 or 'yes') is the safe default
  const check = opts.verifySource === false ? false : opts.verifySource === 'alongside' ? 'alongside' : true
  // the source check, when it runs beside the ops; its failure stops them at the next op
  let alongside: Promise<unknown> | undefined
  const guard: { failed?: unknown } = {}
  try {
    // 6: a wrong source is caught here, before the first byte of the target is written
    if (check === true || (check === 'alongside' && !hasher.threaded)) await verifySource(source, header, hasher)
    else if (check === 'alongside') alongside = verifySource(source, header, hasher).then(() => undefined, (e: unknown) => (guard.failed = e))
    // a verified patch: every op's bytes follow from it and the source, so the image hash
    // alone checks them (an unchecked source that was wrong is named at the end, below)
    const patchCheck = patchHash ? { hash: patchHash, expected: expectedPatch!.toLowerCase() } : undefined
    const result = await applyOps(reader, header, headerBytes, source, sink, hasher, limits, opts, guard, patchCheck)
    const wrong = await alongside
    if (wrong) throw wrong
    return result
  } catch (e) {
    // a wrong source explains whatever went wrong after it: report that
    const wrong = await alongside
    if (wrong) throw wrong
    // unchecked source: what went wrong may have been made from the wrong source
    if (check === false && e instanceof DeltaError && SOURCE_MAY_EXPLAIN.has(e.code)) await verifySource(source, header, hasher)
    throw e
  } finally {
    await hasher.close()
  }
}

async function applyOps(
  reader: ByteReader,
  header: DeltaHeader,
  headerBytes: Buffer,
  source: SourceReader,
  sink: TargetSink,
  hasher: ImageHasher,
  limits: ApplyLimits,
  opts: ApplyOptions,
  guard: { failed?: unknown },
  patchCheck?: { hash: Hash; expected: string },
): Promise<ApplyResult> {
  const resume = opts.resume
  let opIndex = 0
  if (resume) {
    decodeProgress(resume, header)
    await rehashPrefix(sink, hasher, resume)
    opIndex = resume.opsDone
    if (!opts.patchStartsAtResume) await skipOps(reader, header, resume)
  }
  const out = new TargetWriter(sink, hasher, resume?.targetOffset ?? 0, !patchCheck)
  let sinceCheckpoint = 0
  const checkpointBytes = opts.checkpointBytes ?? 64 << 20
  // one payload buffer for the whole apply, grown to the largest op seen (≤ maxPayload)
  let payloadBuf = Buffer.alloc(0)
  const runner = new OpRunner(source, header.sourceSize, out, limits.maxOpTargetBytes, (header.version ?? 1) >= FORMAT_VERSION_3, {
    dir: opts.spoolDir ?? tmpdir(),
    maxBytes: limits.maxMemberBytes,
  })
  // put on a thread at the op that wants it (see decodeOnWorker); null: never, or it could not start
  let decoder: DecodeWorker | undefined | null = opts.decodeOnWorker === false || (opts.decodeOnWorker === undefined && !hasher.thread) ? null : undefined
  let wholeBytes = 0
  let workerOps = 0
  // where this thread decodes a whole op while the worker decodes the one before it
  let held: Buffer | undefined
  // the sync of the last checkpoint runs while the next ops are applied
  let syncing: Promise<void> | undefined
  // The hasher checks each op's bytes a little behind the decoding (on its own thread), so
  // a failure it finds is raised at the next op. Every op is checked, COPY ops too,
  // although with a checked source their bytes are known: a flipped bit in a COPY op's
  // recorded sha256 is still a corrupt patch that must fail, and version 1 has nothing
  // else that covers that field.
  const checkOps = () => {
    if (guard.failed) throw guard.failed
    if (hasher.failed) throw opHashMismatch(hasher.failed)
  }
  /** the next op and its payload (valid until the next call), where the target stands at `position` */
  const nextOp = async (i: number, position: number) => {
    const op = await readOp(reader, header)
    if (op.targetOffset !== position || op.targetOffset + op.targetLength > header.targetSize) {
      throw new DeltaError('DELTA_CORRUPT', 'op does not continue the target where the previous one ended', {
        op: i,
        targetOffset: op.targetOffset,
        expected: position,
      })
    }
    if (payloadBuf.length < op.payloadLength) payloadBuf = Buffer.allocUnsafe(op.payloadLength)
    const payload = payloadBuf.subarray(0, op.payloadLength)
    if (!(await reader.readInto(payload, op.payloadLength))) throw new DeltaError('DELTA_TRUNCATED', 'patch ends inside an op payload', { op: i })
    return { op, payload }
  }
  const ended = async (op: OpHeader, i: number) => {
    if (out.position !== op.targetOffset + op.targetLength) throw new DeltaError('DELTA_CORRUPT', 'op produced the wrong number of bytes', { op: i })
    await out.endOp(i, op.targetOffset, op.sha256)
    sinceCheckpoint += op.targetLength
  }

  try {
    for (; opIndex < header.opCount; opIndex++) {
      checkOps()
      const { op, payload } = await nextOp(opIndex, out.position)
      const whole = decoder !== null ? runner.whole(op, payload) : undefined
      wholeBytes += whole?.targetLength ?? 0
      if (whole && decoder === undefined && (opts.decodeOnWorker || wholeBytes > DECODE_WORKER_AFTER_BYTES)) {
        decoder = (hasher.thread ? DecodeWorker.on(hasher.thread) : await DecodeWorker.start()) ?? null
      }
      if (!whole || !decoder) {
        await runner.run(op, payload)
        await ended(op, opIndex)
      } else {
        // this op on the worker (its stream is copied there at once); the next one, if it
        // is whole too, decoded here meanwhile. Both are written in order, and anything
        // wrong with the next op is raised only once this one is written.
        const first = decoder.decode(whole)
        workerOps++
        first.catch(() => {}) // awaited below; this only avoids an unhandled rejection if the next op fails first
        const second =
          opIndex + 1 < header.opCount
            ? await outcome(async () => {
                const next = await nextOp(opIndex + 1, op.targetOffset + op.targetLength)
                const w = runner.whole(next.op, next.payload)
                return { ...next, bytes: w && (await runner.decodeInto(w, (held ??= Buffer.allocUnsafe(WORKER_OP_BYTES)))) }
              })
            : undefined
        await out.push(await first)
        await ended(op, opIndex)
        if (second) {
          opIndex++
          checkOps()
          if ('failure' in second) throw second.failure
          const next = second.value
          if (next.bytes) await out.push(next.bytes)
          else await runner.run(next.op, next.payload)
          await ended(next.op, opIndex)
        }
      }
      if (opts.onProgress && sinceCheckpoint >= checkpointBytes && opIndex + 1 < header.opCount) {
        sinceCheckpoint = 0
        await syncing // one sync at a time: progress records stay in order
        await out.flush()
        checkOps() // a record never counts an op that failed its hash
        const record: DeltaProgress = {
          format: 1,
          header: headerBytes.toString('base64'),
          opsDone: opIndex + 1,
          patchOffset: reader.position,
          targetOffset: out.offset,
          prefixSha256: await hasher.prefix(),
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
    checkOps()
    await syncing
  } catch (e) {
    // an earlier op that failed its hash is the first thing wrong with the patch: report it,
    // not what went wrong after it (the bytes of that op were already bad)
    await out.settle()
    if (hasher.failed) throw opHashMismatch(hasher.failed)
    throw e
  } finally {
    runner.close()
    await decoder?.close()
  }
  if (out.offset !== header.targetSize) {
    throw new DeltaError('DELTA_CORRUPT', 'ops do not cover the whole target', { written: out.offset, targetSize: header.targetSize })
  }
  if (!(await reader.atEnd())) throw new DeltaError('DELTA_CORRUPT', 'trailing bytes after the last op')
  if (patchCheck) {
    // checked before the image: a patch that is not the signed one explains a wrong image
    const actual = patchCheck.hash.digest('hex')
    if (actual !== patchCheck.expected) {
      throw new DeltaError('DELTA_PATCH_HASH_MISMATCH', 'the patch does not match the sha256 it was expected to have', { expected: patchCheck.expected, actual })
    }
  }
  const digest = await hasher.digest()
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
    workerOps,
  }
}

/**
 * The failures a wrong source can cause: an op's or the image's bytes that do not hash as
 * recorded, and a source member that no longer inflates (CORRUPT) or re-encodes (MEMBER).
 */
const SOURCE_MAY_EXPLAIN: ReadonlySet<string> = new Set(['DELTA_OP_HASH_MISMATCH', 'DELTA_TARGET_HASH_MISMATCH', 'DELTA_MEMBER_MISMATCH', 'DELTA_CORRUPT'])

/** The patch's chunks, each hashed as it is handed on (before the reader may reuse its buffer). */
async function* hashedAsRead(patch: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  for await (const chunk of patch) {
    hash.update(chunk)
    yield chunk
  }
}

/** what `f` resolves to, or what it failed with, to be raised later */
async function outcome<T>(f: () => Promise<T>): Promise<{ value: T } | { failure: unknown }> {
  try {
    return { value: await f() }
  } catch (failure) {
    return { failure }
  }
}

const opHashMismatch = (f: OpHashFailure) =>
  new DeltaError('DELTA_OP_HASH_MISMATCH', `op ${f.op} output does not match its sha256`, { op: f.op, targetOffset: f.targetOffset })

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

async function verifySource(source: SourceReader, header: DeltaHeader, hasher: ImageHasher) {
  // two buffers: the next chunk is read while this one is hashed
  const bufs = [hasher.alloc(WRITE_CHUNK), hasher.alloc(WRITE_CHUNK)]
  const hashed: Array<Promise<void> | undefined> = [undefined, undefined]
  const read = async (i: number, at: number) => {
    const n = Math.min(WRITE_CHUNK, header.sourceSize - at)
    await readExactly(source, bufs[i]!.subarray(0, n), at)
    return n
  }
  let next = header.sourceSize > 0 ? read(0, 0) : undefined
  for (let at = 0, i = 0; next; at += WRITE_CHUNK, i ^= 1) {
    const n = await next
    await hashed[i ^ 1] // the other buffer is free once its chunk is hashed
    next = at + WRITE_CHUNK < header.sourceSize ? read(i ^ 1, at + WRITE_CHUNK) : undefined
    hashed[i] = hasher.hashSource(bufs[i]!, n)
  }
  await Promise.all(hashed)
  if (!(await hasher.sourceDigest()).equals(header.sourceSha256)) {
    throw new DeltaError('DELTA_SOURCE_MISMATCH', 'source image does not match the sha256 the patch was built from', {
      expected: header.sourceSha256.toString('hex'),
    })
  }
}

/** The image hash must cover the prefix written before the crash: re-read it and check it is what we wrote. */
async function rehashPrefix(sink: TargetSink, hasher: ImageHasher, p: DeltaProgress) {
  if (!sink.read) throw new DeltaError('DELTA_RESUME_MISMATCH', 'this target cannot be read back, so it cannot resume')
  const buf = hasher.alloc(IO_CHUNK)
  for (let at = 0; at < p.targetOffset; ) {
    const n = await sink.read(buf.subarray(0, Math.min(IO_CHUNK, p.targetOffset - at)), at)
    if (n === 0) throw new DeltaError('DELTA_RESUME_MISMATCH', 'target is shorter than the recorded progress')
    await hasher.hash(buf, n, [], true)
    at += n
  }
  if ((await hasher.prefix()) !== p.prefixSha256) {
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

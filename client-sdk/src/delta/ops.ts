import { brotliDecompressSync } from 'node:zlib'
import { OpType, readVarint, unzigzag, type OpHeader } from './format.js'
import { DeltaError } from './errors.js'
import { IO_CHUNK, readExactly, type SourceReader, type TargetWriter } from './streams.js'

/**
 * Executes one operation: reads its source bytes at random, writes its output through
 * the writer. REPLACE and BSDIFF ops are small (the builder cuts them at 4 MiB of target,
 * the applier refuses more than `maxOpTarget`), so their streams are decoded in one
 * synchronous call each: no threadpool (whose per-thread malloc arenas kept ~30 MB of
 * RSS), no stream machinery, and every output size capped before decoding.
 */
export async function runOp(op: OpHeader, payload: Buffer, source: SourceReader, sourceSize: number, out: TargetWriter, maxOpTarget: number) {
  if (op.type === OpType.COPY) return runCopy(op, source, sourceSize, out)
  if (op.targetLength > maxOpTarget) {
    throw new DeltaError('DELTA_SIZE_LIMIT', `op target length ${op.targetLength} exceeds the limit ${maxOpTarget}`, {
      targetLength: op.targetLength,
      limit: maxOpTarget,
    })
  }
  if (op.type === OpType.REPLACE) return runReplace(op, payload, out)
  return runBsdiff(op, payload, source, sourceSize, out)
}

function inflate(data: Buffer, max: number, what: string): Buffer {
  if (data.length === 0) return Buffer.alloc(0) // an empty stream needs no bytes; brotli never writes 0 bytes for one
  try {
    // maxOutputLength turns a decompression bomb into an error instead of an allocation
    return brotliDecompressSync(data, { maxOutputLength: Math.max(1, max) })
  } catch (e) {
    throw new DeltaError('DELTA_CORRUPT', `bad or oversized ${what} stream in op payload`, { stream: what }, { cause: e })
  }
}

function checkExtent(op: OpHeader, sourceSize: number) {
  if (op.srcOffset + op.srcLength > sourceSize) {
    throw new DeltaError('DELTA_OUT_OF_SOURCE', 'op source extent lies outside the source image', {
      srcOffset: op.srcOffset,
      srcLength: op.srcLength,
      sourceSize,
    })
  }
}

async function runCopy(op: OpHeader, source: SourceReader, sourceSize: number, out: TargetWriter) {
  checkExtent(op, sourceSize)
  // one buffer per op, reused: push() has finished with it when it resolves
  const scratch = Buffer.allocUnsafe(Math.min(IO_CHUNK, op.targetLength))
  for (let done = 0; done < op.targetLength; ) {
    const n = Math.min(IO_CHUNK, op.targetLength - done)
    const buf = scratch.subarray(0, n)
    await readExactly(source, buf, op.srcOffset + done)
    await out.push(buf)
    done += n
  }
}

async function runReplace(op: OpHeader, payload: Buffer, out: TargetWriter) {
  const data = inflate(payload, op.targetLength, 'replace')
  if (data.length !== op.targetLength) throw new DeltaError('DELTA_CORRUPT', 'replace data has the wrong length')
  await out.push(data)
}

/**
 * bsdiff semantics (Percival's BSDIFF40, streams re-encoded with brotli): each control
 * entry (x, y, z) adds x diff bytes to the source at oldpos, copies y extra bytes, then
 * moves oldpos by z. oldpos is relative to the op's source extent and must stay inside it.
 */
async function runBsdiff(op: OpHeader, payload: Buffer, source: SourceReader, sourceSize: number, out: TargetWriter) {
  checkExtent(op, sourceSize)
  // a control entry writes ≥ 1 byte (seek-only entries may not repeat) and takes ≤ 30 bytes;
  // real ones take ~4, so 4 bytes per output byte is generous and still bounded
  const ctrl = inflate(payload.subarray(0, op.ctrlLength), 4 * op.targetLength + 64, 'control')
  const diff = inflate(payload.subarray(op.ctrlLength, op.ctrlLength + op.diffLength), op.targetLength, 'diff')
  const extra = inflate(payload.subarray(op.ctrlLength + op.diffLength), op.targetLength, 'extra')
  const scratch = Buffer.allocUnsafe(Math.min(IO_CHUNK, op.targetLength))
  let produced = 0
  let oldpos = 0
  let idle = 0
  let c = 0
  let d = 0
  let e = 0
  while (produced < op.targetLength) {
    const xr = readVarint(ctrl, c, ctrl.length)
    const yr = xr && readVarint(ctrl, xr[1], ctrl.length)
    const zr = yr && readVarint(ctrl, yr[1], ctrl.length)
    if (!xr || !yr || !zr) throw new DeltaError('DELTA_CORRUPT', 'control stream ends before the op output is complete')
    c = zr[1]
    const x = xr[0]
    const y = yr[0]
    const z = unzigzag(zr[0])
    if (x + y > op.targetLength - produced || d + x > diff.length || e + y > extra.length) {
      throw new DeltaError('DELTA_CORRUPT', 'control entry out of range', { x, y, z })
    }
    // entries that write nothing only move oldpos; two in a row are never needed
    idle = x + y === 0 ? idle + 1 : 0
    if (idle > 1) throw new DeltaError('DELTA_CORRUPT', 'control stream has consecutive empty entries')
    if (x > 0 && (oldpos < 0 || oldpos + x > op.srcLength)) {
      throw new DeltaError('DELTA_OUT_OF_SOURCE', 'bsdiff control reads outside the op source extent', {
        oldpos,
        length: x,
        srcLength: op.srcLength,
      })
    }
    for (let done = 0; done < x; ) {
      const n = Math.min(IO_CHUNK, x - done)
      const buf = scratch.subarray(0, n)
      await readExactly(source, buf, op.srcOffset + oldpos + done)
      for (let i = 0; i < n; i++) buf[i] = buf[i]! + diff[d + i]! // Uint8Array store wraps mod 256, as bspatch does
      await out.push(buf)
      d += n
      done += n
    }
    if (y > 0) await out.push(extra.subarray(e, e + y))
    e += y
    produced += x + y
    oldpos += x + z
  }
  // an op must consume each of its streams exactly: leftovers mean a forged or damaged op
  if (c !== ctrl.length || d !== diff.length || e !== extra.length) {
    throw new DeltaError('DELTA_CORRUPT', 'op streams have trailing bytes')
  }
}

import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, constants } from 'node:zlib'
import { encodeControl, encodeSparseDiff, OpType, type OpHeader } from '../../client-sdk/src/delta/index.js'
import { encodeTransposeDescriptor, transpose } from '../../client-sdk/src/delta/transpose.js'
import { pickStride } from './stride.js'

const compress = promisify(brotliCompress)

/** A finished op: header fields plus the payload bytes that follow it in the patch. */
export interface EncodedOp {
  op: OpHeader
  payload: Buffer
}

export const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * brotli runs on the libuv pool, so several ops compress on both cores at once.
 * lgwin 20 (1 MiB) keeps each of the applier's three decoders at ≤ 1 MiB of ring buffer.
 * With 22 (4 MiB) the decoders took up to 8 MB more of the device's 64 MB; on the dev OS
 * pair the diff streams grew by 0.45 % (0.2 % of the patch) and the extra streams not at all.
 */
export function brotli(data: Buffer, quality: number, lgwin = 20): Promise<Buffer> {
  return compress(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_LGWIN]: lgwin,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  })
}

export function copyOp(targetOffset: number, srcOffset: number, length: number, outSha: Buffer): EncodedOp {
  const op: OpHeader = {
    type: OpType.COPY,
    payloadLength: 0,
    targetOffset,
    targetLength: length,
    srcOffset,
    srcLength: length,
    ctrlLength: 0,
    diffLength: 0,
    sha256: outSha,
  }
  return { op, payload: Buffer.alloc(0) }
}

/**
 * New bytes: REPLACE, or (format 3, `transposable`) TRANSPOSED when the bytes look like
 * rows of fixed-size blocks and brotli packs them smaller by column (pickStride).
 */
export async function replaceOp(targetOffset: number, data: Buffer, quality: number, transposable = false): Promise<EncodedOp> {
  const stride = transposable ? pickStride(data) : undefined
  const cols = stride ? transpose(data, stride) : undefined
  const [plain, columns] = await Promise.all([brotli(data, quality), cols ? brotli(cols, quality) : undefined])
  const byColumn = stride !== undefined && columns !== undefined && columns.length + 8 < plain.length
  const payload = byColumn ? Buffer.concat([encodeTransposeDescriptor(stride), await packColumns(cols!, columns, quality)]) : plain
  const op: OpHeader = {
    type: byColumn ? OpType.TRANSPOSED : OpType.REPLACE,
    payloadLength: payload.length,
    targetOffset,
    targetLength: data.length,
    srcOffset: 0,
    srcLength: 0,
    ctrlLength: 0,
    diffLength: 0,
    sha256: sha256(data),
  }
  return { op, payload }
}

/**
 * A by-column stream is literals only (no repeats to find): at the default quality 9,
 * it is packed again at quality 10, whose block splitting and histogram clustering make
 * it about 0.3 % smaller on quantized rows, and it is kept if smaller. The dev model
 * pair with every layer re-trained went from 160,885,446 to 160,316,385 B (0.9501× to
 * 0.9467× zstd -19). It costs about 1.8 s of CPU per 4 MiB op (that build's 45 by-column
 * ops: 59.7 → 141.7 s of CPU), spent only on ops stored by column. The cheap quality-9
 * pass (about 0.14 s for a 4 MiB op) is what decides whether a window goes by column. lgwin 18 halves quality 10's time here for 0.01 %, and the device's
 * decoder ring for the stream shrinks to 256 KiB.
 */
async function packColumns(cols: Buffer, atQuality: Buffer, quality: number): Promise<Buffer> {
  if (quality !== 9) return atQuality // lower: a fast build; higher: packed so already
  const packed = await brotli(cols, 10, 18)
  return packed.length < atQuality.length ? packed : atQuality
}

export interface BsdiffParts {
  targetOffset: number
  /** the bytes this op rebuilds, for its sha256 and length */
  target: Buffer
  srcOffset: number
  srcLength: number
  control: ReadonlyArray<readonly [number, number, number]>
  diff: Buffer
  extra: Buffer
}

/**
 * A diff stream, dense (versions 1 and 2) or as sparse records (version 3). Zero runs of 4
 * bytes or more become runs: on the dev OS pair that is 2.8 million records for 348 MB of
 * diff and a stream 6 % smaller than the dense one. Where that leaves most bytes literal
 * (a fine-tuned model's weight deltas: lone zero bytes everywhere) only runs of 16 or more
 * are cut, which costs nothing against the dense stream (runs of 4 cost 6 % there).
 */
export function encodeDiff(diff: Buffer, quality: number, sparse: boolean): Promise<Buffer> {
  if (!sparse) return brotli(diff, quality)
  const fine = encodeSparseDiff(diff, 4)
  return brotli(fine.length * 2 <= diff.length ? fine : encodeSparseDiff(diff, 16), quality)
}

export async function bsdiffOp(p: BsdiffParts, quality: number, sparse = false): Promise<EncodedOp> {
  const [ctrl, diff, extra] = await Promise.all([
    brotli(encodeControl(p.control), 11),
    encodeDiff(p.diff, quality, sparse),
    brotli(p.extra, quality),
  ])
  const op: OpHeader = {
    type: OpType.BSDIFF,
    payloadLength: ctrl.length + diff.length + extra.length,
    targetOffset: p.targetOffset,
    targetLength: p.target.length,
    srcOffset: p.srcOffset,
    srcLength: p.srcLength,
    ctrlLength: ctrl.length,
    diffLength: diff.length,
    sha256: sha256(p.target),
  }
  return { op, payload: Buffer.concat([ctrl, diff, extra]) }
}

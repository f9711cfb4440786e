import { DeltaError } from './errors.js'

/**
 * Version 3's TRANSPOSED op (DELTA-FORMAT.md "TRANSPOSED"): new bytes stored column by
 * column for a stride S. A quantized model is rows of fixed-size blocks (GGUF Q4_0: an
 * fp16 scale then 16 bytes of 4-bit weights, 18 bytes a block); by column, the scale
 * bytes, which vary in a few bits, sit together instead of between near-random weight
 * bytes, and brotli packs the new layers of the dev model pair 4.9 % tighter.
 *
 * The op's bytes are cut into slabs of 1 MiB (the last one shorter), each transposed on
 * its own, so the device holds one slab, not the whole op (4 MiB from our builder: that
 * was 3 MB over the agent's 64 MB); on the dev model pair it costs 0.12 %. In a slab of
 * n = floor(length / S) rows, transposed byte `c·n + i` is byte `i·S + c` of the slab
 * (c < S, i < n); the last `length − n·S` bytes stay at its end as they are.
 */

/** bytes before the brotli stream in a TRANSPOSED op's payload: u32 stride, u32 reserved (0) */
export const TRANSPOSE_DESCRIPTOR_SIZE = 8
/** the largest stride taken (GGUF's largest block, Q8_K, is 292 bytes) */
export const MAX_STRIDE = 4096
/** bytes transposed together */
export const SLAB = 1 << 20

/** the op's bytes, slab by slab, each by column */
export function transpose(data: Uint8Array, stride: number): Buffer {
  const out = Buffer.allocUnsafe(data.length)
  for (let at = 0; at < data.length; at += SLAB) {
    const slab = data.subarray(at, at + SLAB)
    const n = Math.floor(slab.length / stride)
    let o = at
    for (let c = 0; c < stride; c++) for (let i = 0, k = c; i < n; i++, k += stride) out[o++] = slab[k]!
    out.set(slab.subarray(n * stride), o)
  }
  return out
}

/** One slab back in order: `columns` (a transposed slab) into `out`, of the same length. */
export function untransposeSlab(columns: Uint8Array, stride: number, out: Uint8Array): void {
  const n = Math.floor(columns.length / stride)
  for (let c = 0, k = 0; c < stride; c++) for (let i = 0, o = c; i < n; i++, o += stride) out[o] = columns[k++]!
  out.set(columns.subarray(n * stride), n * stride)
}

/** The op's bytes in order, from all its slabs by column (the builder's twin). */
export function untranspose(columns: Uint8Array, stride: number): Buffer {
  const out = Buffer.allocUnsafe(columns.length)
  for (let at = 0; at < columns.length; at += SLAB) untransposeSlab(columns.subarray(at, at + SLAB), stride, out.subarray(at, at + SLAB))
  return out
}

/** the descriptor: the stride, checked; a reserved word that is not zero is refused */
export function decodeTransposeDescriptor(payload: Buffer): number {
  if (payload.length < TRANSPOSE_DESCRIPTOR_SIZE) throw new DeltaError('DELTA_CORRUPT', 'transposed op payload is shorter than its descriptor')
  const stride = payload.readUInt32LE(0)
  if (payload.readUInt32LE(4) !== 0) throw new DeltaError('DELTA_UNSUPPORTED', 'transposed op descriptor has unknown fields set')
  if (stride < 2 || stride > MAX_STRIDE) throw new DeltaError('DELTA_CORRUPT', `transposed op stride ${stride} is outside 2–${MAX_STRIDE}`, { stride })
  return stride
}

export function encodeTransposeDescriptor(stride: number): Buffer {
  const b = Buffer.alloc(TRANSPOSE_DESCRIPTOR_SIZE)
  b.writeUInt32LE(stride, 0)
  return b
}

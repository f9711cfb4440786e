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

/**
 * untransposeSlab as a WebAssembly loop over its own memory (a slab's columns at 0, rows
 * put back in order at SLAB, up to UNTRANSPOSE_PIECE bytes of them per call): each column
 * read four bytes at a time, its bytes stored `stride` apart. 63 ms against the JS loop's
 * 282 for 185 MiB at stride 18 (the all-layers model pair's TRANSPOSED ops), where the JS
 * loop was a fifth of the apply's CPU. Rows come out a piece at a time so that the memory
 * is 1.25 MiB: the agent's image delta has no megabyte to spare.
 *
 * (module
 *   (memory (export "mem") 20)
 *   ;; rows [i0, i1) of a slab of n rows: out[(i - i0) * stride + c] = cols[c * n + i], cols at 0, out at 1 MiB
 *   (func (export "untranspose") (param $n i32) (param $stride i32) (param $i0 i32) (param $i1 i32)
 *     (local $c i32) (local $i i32) (local $k i32) (local $o i32) (local $v i32)
 *     (local $e4 i32) (local $s2 i32) (local $s3 i32) (local $s4 i32)
 *     (local.set $e4 (i32.add (local.get $i0) (i32.and (i32.sub (local.get $i1) (local.get $i0)) (i32.const -4))))
 *     (local.set $s2 (i32.shl (local.get $stride) (i32.const 1)))
 *     (local.set $s3 (i32.add (local.get $s2) (local.get $stride)))
 *     (local.set $s4 (i32.shl (local.get $stride) (i32.const 2)))
 *     (block $cdone
 *       (loop $cloop
 *         (br_if $cdone (i32.ge_u (local.get $c) (local.get $stride)))
 *         (local.set $o (i32.add (i32.const 1048576) (local.get $c)))
 *         (local.set $k (i32.add (i32.mul (local.get $c) (local.get $n)) (local.get $i0)))
 *         (local.set $i (local.get $i0))
 *         (block $idone
 *           (loop $iloop
 *             (br_if $idone (i32.ge_u (local.get $i) (local.get $e4)))
 *             (local.set $v (i32.load align=1 (local.get $k)))
 *             (i32.store8 (local.get $o) (local.get $v))
 *             (i32.store8 (i32.add (local.get $o) (local.get $stride)) (i32.shr_u (local.get $v) (i32.const 8)))
 *             (i32.store8 (i32.add (local.get $o) (local.get $s2)) (i32.shr_u (local.get $v) (i32.const 16)))
 *             (i32.store8 (i32.add (local.get $o) (local.get $s3)) (i32.shr_u (local.get $v) (i32.const 24)))
 *             (local.set $k (i32.add (local.get $k) (i32.const 4)))
 *             (local.set $o (i32.add (local.get $o) (local.get $s4)))
 *             (local.set $i (i32.add (local.get $i) (i32.const 4)))
 *             (br $iloop)))
 *         (block $rdone
 *           (loop $rloop
 *             (br_if $rdone (i32.ge_u (local.get $i) (local.get $i1)))
 *             (i32.store8 (local.get $o) (i32.load8_u (local.get $k)))
 *             (local.set $k (i32.add (local.get $k) (i32.const 1)))
 *             (local.set $o (i32.add (local.get $o) (local.get $stride)))
 *             (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *             (br $rloop)))
 *         (local.set $c (i32.add (local.get $c) (i32.const 1)))
 *         (br $cloop)))))
 */
export const UNTRANSPOSE_WASM_HEX =
  '0061736d0100000001080160047f7f7f7f00030201000503010014071502036d656d02000b756e7472616e73706f736500000ade0101db0101097f2002200320026b417c716a21092001410174210a200a20016a210b2001410274210c02400340200420014f0d01418080c00020046a2107200420006c20026a21062002210502400340200520094f0d0120062800002108200720083a0000200720016a20084108763a00002007200a6a20084110763a00002007200b6a20084118763a0000200641046a21062007200c6a2107200541046a21050c000b0b02400340200520034f0d01200720062d00003a0000200641016a2106200720016a2107200541016a21050c000b0b200441016a21040c000b0b0b'

/** the most bytes of rows one call of the loop puts in order */
export const UNTRANSPOSE_PIECE = 256 << 10

type UntransposeWasm = { untranspose: (n: number, stride: number, i0: number, i1: number) => void; mem: WebAssembly.Memory }

/**
 * One slab at a time back in order, in WebAssembly where the runtime has it (the same
 * bytes as untransposeSlab, which it falls back to). Decode a slab's columns into
 * `columns`, then `pieces` yields the slab in order, each piece valid until the next.
 */
export class Untransposer {
  /** where a slab's columns go: SLAB bytes */
  readonly columns: Buffer
  private readonly ordered: Buffer
  private readonly wasm: UntransposeWasm['untranspose'] | undefined

  constructor() {
    let w: UntransposeWasm | undefined
    try {
      w = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(UNTRANSPOSE_WASM_HEX, 'hex'))).exports as unknown as UntransposeWasm
    } catch {
      w = undefined // no WebAssembly here: the plain loop
    }
    this.wasm = w?.untranspose
    this.columns = w ? Buffer.from(w.mem.buffer, 0, SLAB) : Buffer.allocUnsafe(SLAB)
    this.ordered = w ? Buffer.from(w.mem.buffer, SLAB, UNTRANSPOSE_PIECE) : Buffer.allocUnsafe(SLAB)
  }

  /** columns[0, length) (one slab, length ≤ SLAB) in order, piece by piece */
  *pieces(length: number, stride: number): Generator<Buffer> {
    const columns = this.columns.subarray(0, length)
    if (!this.wasm) {
      const out = this.ordered.subarray(0, length)
      untransposeSlab(columns, stride, out)
      yield out
      return
    }
    const n = Math.floor(length / stride)
    const rows = Math.max(1, Math.floor(UNTRANSPOSE_PIECE / stride))
    for (let i0 = 0; i0 < n; i0 += rows) {
      const i1 = Math.min(n, i0 + rows)
      this.wasm(n, stride, i0, i1)
      yield this.ordered.subarray(0, (i1 - i0) * stride)
    }
    // the bytes after the last whole row stay as they are
    if (n * stride < length) yield columns.subarray(n * stride)
  }
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

/**
 * bspatch's inner step, `out[i] = old[i] + diff[i]` (mod 256), 16 bytes at a time: a
 * 29-instruction WebAssembly SIMD loop (i8x16.add). The JS byte loop it replaces cost
 * ~0.45 s of CPU per 355 MB of BSDIFF output (the dev OS pair), the wasm one ~15 ms.
 *
 * The loop only sees its own linear memory, so the two buffers it adds live there: the
 * applier reads source bytes into `scratch` and decodes diff bytes into `piece` (which
 * the diff stream's BrotliReader owns). Any other buffers, and a runtime without
 * WebAssembly SIMD, take the plain loop: same bytes either way.
 */

/**
 * (module (memory (export "mem") 24)
 *   (func (export "add") (param $dst i32) (param $src i32) (param $n i32)   ;; n: a multiple of 16
 *     (block (loop
 *       (br_if 1 (i32.eqz (local.get $n)))
 *       (v128.store (local.get $dst) (i8x16.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
 *       (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
 *       (local.set $src (i32.add (local.get $src) (i32.const 16)))
 *       (local.set $n (i32.sub (local.get $n) (i32.const 16)))
 *       (br 0)))))
 */
const WASM_HEX =
  '0061736d0100000001070160037f7f7f00030201000503010018070d02036164640000036d656d02000a3a013800024003402002450d0120002000fd0000002001fd000000fd6efd0b0000200041106a2100200141106a2101200241106b21020c000b0b0b'

/** 24 wasm pages of 64 KiB: scratch at 0, piece after it */
const PIECE_AT = 1 << 20 // scratch is at most 1 MiB (IO_CHUNK)

export class ByteAdder {
  /** source bytes are read here and get the diff added in place */
  readonly scratch: Buffer
  /** diff bytes are decoded here */
  readonly piece: Buffer
  private readonly wasmAdd: ((dst: number, src: number, n: number) => void) | undefined
  private readonly memory: ArrayBuffer | undefined

  constructor(scratchBytes: number, pieceBytes: number) {
    const wasm = scratchBytes <= PIECE_AT && pieceBytes <= 24 * 65536 - PIECE_AT ? instantiate() : undefined
    if (wasm) {
      this.memory = wasm.mem.buffer
      this.scratch = Buffer.from(wasm.mem.buffer, 0, scratchBytes)
      this.piece = Buffer.from(wasm.mem.buffer, PIECE_AT, pieceBytes)
      this.wasmAdd = wasm.add
    } else {
      this.scratch = Buffer.allocUnsafe(scratchBytes)
      this.piece = Buffer.allocUnsafe(pieceBytes)
    }
  }

  /** dst[i] = dst[i] + d[i] mod 256 for every byte of d (dst at least as long) */
  add(dst: Buffer, d: Buffer): void {
    this.addAt(dst, 0, d, 0, d.length)
  }

  /**
   * dst[to + i] += d[from + i] for i < n: the same without views, for callers that add
   * millions of short runs (version 3's sparse diff records), where making two views per
   * run cost more than the adding
   */
  addAt(dst: Buffer, to: number, d: Buffer, from: number, n: number): void {
    let i = 0
    if (this.wasmAdd && dst.buffer === this.memory && d.buffer === this.memory) {
      i = n & ~15
      if (i > 0) this.wasmAdd(dst.byteOffset + to, d.byteOffset + from, i)
    }
    for (; i < n; i++) dst[to + i] = dst[to + i]! + d[from + i]! // Uint8Array store wraps mod 256, as bspatch does
  }
}

function instantiate(): { add: (dst: number, src: number, n: number) => void; mem: WebAssembly.Memory } | undefined {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_HEX, 'hex')))
    return instance.exports as unknown as { add: (dst: number, src: number, n: number) => void; mem: WebAssembly.Memory }
  } catch {
    return undefined // no WebAssembly, or no SIMD: the plain loop
  }
}

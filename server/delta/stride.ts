/**
 * Whether new bytes are rows of fixed-size blocks, and of what size: the stride whose
 * columns have the lowest order-0 entropy, if that is clearly below the bytes' own.
 * Quantized model weights are such rows (GGUF block sizes below); an ext4 image's new
 * files are not, and get a plain REPLACE. The estimate only picks a candidate: the op is
 * compressed both ways and keeps the smaller (encode-op.ts).
 */

/** 2, 4, 8: f16/f32/f64 arrays; the rest GGUF quant blocks (Q4_0 18, Q4_1 20, Q5_0 22, Q5_1 24, Q8_0 34, K-quants 84–292) */
const STRIDES = [2, 4, 8, 18, 20, 22, 24, 34, 84, 110, 144, 176, 210, 292]
/** bytes looked at: enough rows per column for a fair estimate at the largest stride */
const SAMPLE = 1 << 20
/** a stride is tried only when its columns promise at least this much less */
const GAIN = 0.97

/** bits of a histogram of n bytes, with the Miller–Madow correction (few rows per column read low) */
function bits(hist: Uint32Array, at: number, n: number): number {
  let e = 0
  let used = 0
  for (let b = 0; b < 256; b++) {
    const c = hist[at + b]!
    if (c === 0) continue
    used++
    e -= c * Math.log2(c / n)
  }
  return e + (used - 1) / (2 * Math.LN2)
}

export function pickStride(data: Uint8Array): number | undefined {
  const sample = data.subarray(0, Math.min(SAMPLE, data.length))
  const whole = new Uint32Array(256)
  for (const b of sample) whole[b]!++
  const plain = bits(whole, 0, sample.length)
  let best: number | undefined
  let bestBits = plain * GAIN
  for (const stride of STRIDES) {
    const rows = Math.floor(sample.length / stride)
    if (rows < 256) continue
    const hist = new Uint32Array(256 * stride)
    for (let i = 0, c = 0; i < rows * stride; i++) {
      hist[c * 256 + sample[i]!]!++
      if (++c === stride) c = 0
    }
    let total = 0
    for (let c = 0; c < stride; c++) total += bits(hist, c * 256, rows)
    // the tail bytes outside whole rows, priced at the plain rate
    total += (plain / sample.length) * (sample.length - rows * stride)
    // strides go up: a larger one must beat a smaller one clearly (its multiples look as
    // good, and its estimate reads lower with fewer rows per column)
    if (total < (best === undefined ? bestBits : bestBits * 0.99)) {
      bestBits = total
      best = stride
    }
  }
  return best
}

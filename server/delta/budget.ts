/** How a memory budget is split between the source index and the parallel op builds. */
export interface BuildBudget {
  /** source block size of the index, bytes */
  blockSize: number
  /** largest target range of one BSDIFF/REPLACE op, bytes */
  window: number
  /** largest source window handed to bsdiff-node, bytes */
  bsdiffWindow: number
}

const MiB = 1 << 20
/** Node, V8 heap and buffers that do not scale with the image */
const BASE = 160 * MiB
/** bsdiff-node: suffix array (8 B/byte as int64) + its sort scratch + copies, measured ~17× */
const BSDIFF_FACTOR = 18

/**
 * `concurrency` bsdiff-node runs at most, and `inflight` op builds (more than the cores,
 * so the scan keeps going while the pool compresses).
 */
export function buildBudget(budget: number, sourceSize: number, concurrency: number, inflight: number): BuildBudget {
  // index: table (2 slots × 8 bytes) + filter (2 bytes) per block, at most 1/8 of the budget
  let blockSize = 1024
  while ((18 * sourceSize) / blockSize > budget / 8) blockSize *= 2
  const free = Math.max(64 * MiB, budget - BASE - (18 * sourceSize) / blockSize)
  // a build holds its target window ~5 times (bytes, diff, extra, compressed, segments);
  // give windows a quarter of what is left and bsdiff the rest. Windows stop at 4 MiB:
  // brotli's window (lgwin 22) is 4 MiB anyway, and the op payload is what the device
  // holds in memory while applying
  const window = Math.max(MiB, Math.min(4 * MiB, Math.floor(free / 4 / inflight / 5 / MiB) * MiB))
  const bsdiffWindow = Math.max(MiB, Math.min(32 * MiB, Math.floor((free - inflight * 5 * window) / concurrency / BSDIFF_FACTOR)))
  return { blockSize, window, bsdiffWindow }
}

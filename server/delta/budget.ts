/** How a memory budget is split between the source index and the parallel op builds. */
export interface BuildBudget {
  /** source block size of the index, bytes */
  blockSize: number
  /** largest target range of one BSDIFF/REPLACE op, bytes */
  window: number
  /** largest source range suffix-sorted for bsdiff, bytes */
  bsdiffWindow: number
  /** suffix-sorted source ranges kept for reuse, bytes (5 per source byte) */
  sortCache: number
}

const MiB = 1 << 20
/** Node, V8 heap and buffers that do not scale with the image */
const BASE = 192 * MiB
/**
 * One isolate per region worker (~30 MB of V8 heap and tsx) and what its freed buffers
 * leave in the allocator: on the dev OS pair RSS ran ~300 MB above the live heaps and
 * ArrayBuffers of all three threads (~230 MB less with glibc's mmap threshold pinned, so
 * most of it is freed memory malloc keeps), which 64 MiB per worker did not count. The
 * build process now starts with the threshold pinned (build-process.ts): peaks fell from
 * 932–1,024 to ~790 MB on that pair; this share is kept as the margin.
 */
const WORKER_BASE = 128 * MiB
/**
 * Per region worker, per byte of its largest sorted range: SA-IS scratch (measured 1.4–8.1 B,
 * kept for reuse, plus search buffers, window reads and garbage), and the sort cache of
 * two ranges (bytes + Int32 suffix array: 2 × 5 B; its one spare array counts in it).
 */
const SORT_SCRATCH = 16
const SORT_CACHE = 10
export const BSDIFF_FACTOR = SORT_SCRATCH + SORT_CACHE

/**
 * `concurrency` region workers, each sorting one source range at a time and keeping a
 * few, and `inflight` op builds (more than the cores, so the scan keeps going while the
 * workers encode).
 */
export function buildBudget(budget: number, sourceSize: number, concurrency: number, inflight: number): BuildBudget {
  // index: table (2 slots × 8 bytes) + filter (2 bytes) per block, at most 1/8 of the budget
  let blockSize = 1024
  while ((18 * sourceSize) / blockSize > budget / 8) blockSize *= 2
  const free = Math.max(64 * MiB, budget - BASE - concurrency * WORKER_BASE - (18 * sourceSize) / blockSize)
  // a build holds its target window ~5 times (bytes, diff, extra, compressed, segments);
  // give windows a quarter of what is left and the workers' sorts the rest. Windows stop at
  // 4 MiB: the op payload is what the device holds in memory while applying
  const window = Math.max(MiB, Math.min(4 * MiB, Math.floor(free / 4 / inflight / 5 / MiB) * MiB))
  const bsdiffWindow = Math.max(MiB, Math.min(32 * MiB, Math.floor((free - inflight * 5 * window) / concurrency / BSDIFF_FACTOR)))
  const sortCache = SORT_CACHE * bsdiffWindow
  return { blockSize, window, bsdiffWindow, sortCache }
}

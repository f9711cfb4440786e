import { bsdiffSearch } from './bsdiff-search.js'
import { SortScratch, suffixArray } from './suffix-array.js'

/** bsdiff's three streams, decoded: what a BSDIFF op carries once re-encoded with brotli */
export interface BsdiffStreams {
  control: Array<[number, number, number]>
  diff: Buffer
  extra: Buffer
}

export class DeltaBuildError extends Error {
  constructor(
    readonly code: 'DELTA_BUILD_BSDIFF' | 'DELTA_BUILD_VERIFY' | 'DELTA_BUILD_INPUT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'DeltaBuildError'
  }
}

/**
 * this thread's sort scratch, kept (it grows to the largest member sorted): a fresh one per
 * member was ~6 bytes per member byte of garbage each time, freed late and fragmenting the heap
 */
const scratch = new SortScratch()

/**
 * bsdiff over one window, in this thread: SA-IS suffix array of the source range, then
 * bsdiff's search (the same streams bsdiff-node returned, without temp files or bzip2).
 */
export async function bsdiffWindow(oldBuf: Buffer, newBuf: Buffer): Promise<BsdiffStreams> {
  try {
    return bsdiffSearch(oldBuf, suffixArray(oldBuf, scratch), newBuf)
  } catch (e) {
    throw new DeltaBuildError('DELTA_BUILD_BSDIFF', `bsdiff failed: ${String(e)}`, { cause: e })
  }
}

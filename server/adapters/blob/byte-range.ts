/**
 * Range checks shared by the blob stores, following RFC 7233 §2.1: a range whose
 * first byte lies beyond the end is unsatisfiable; a last byte beyond the end is
 * clamped to the last byte of the blob.
 */
import { invalid, SlipwayError } from '../../domain/errors.js'
import type { ByteRange } from '../../domain/ports/infrastructure.js'

/** Rejects ranges no blob could satisfy (negative, reversed, non-integer). */
export function assertRangeShape(range: ByteRange): void {
  const { start, end } = range
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw invalid('BLOB_BAD_RANGE', 'a byte range needs integers 0 <= start <= end', { start, end })
  }
}

export function rangeNotSatisfiable(sha256: string, range: ByteRange, length?: number): SlipwayError {
  return new SlipwayError('range', 'BLOB_RANGE_NOT_SATISFIABLE', 'the byte range starts beyond the end of the blob', {
    sha256,
    start: range.start,
    end: range.end,
    ...(length === undefined ? {} : { length }),
  })
}

/** The range clamped to a blob of `length` bytes; throws when it starts past the end. */
export function clampRange(sha256: string, range: ByteRange, length: number): ByteRange {
  assertRangeShape(range)
  if (range.start >= length) throw rangeNotSatisfiable(sha256, range, length)
  return { start: range.start, end: Math.min(range.end, length - 1) }
}

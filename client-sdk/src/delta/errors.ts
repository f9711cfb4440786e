/**
 * Errors of the delta applier. Each carries a stable string `code` that the agent
 * reports to the server and that `slipway-agent delta apply` prints on failure, so
 * callers match on `code`, never on the message.
 */
import { CodedError } from '../coded-error.js'
export type DeltaErrorCode =
  /** the patch does not start with the delta magic: not a Slipway delta at all */
  | 'DELTA_BAD_MAGIC'
  /** a format version or op type this applier does not know */
  | 'DELTA_UNSUPPORTED'
  /** the patch ended before the header or an operation was complete */
  | 'DELTA_TRUNCATED'
  /** the patch is structurally invalid (bad checksum, inconsistent field, bad compressed data, trailing bytes) */
  | 'DELTA_CORRUPT'
  /** an operation's output did not hash to the sha256 recorded for it */
  | 'DELTA_OP_HASH_MISMATCH'
  /** the patch does not hash to the sha256 the caller expected (ApplyOptions.expectedPatchSha256) */
  | 'DELTA_PATCH_HASH_MISMATCH'
  /** the rebuilt image does not hash to the target sha256 */
  | 'DELTA_TARGET_HASH_MISMATCH'
  /** the source image is not the one the patch was built from (size or sha256) */
  | 'DELTA_SOURCE_MISMATCH'
  /** the patch builds a different target than the one the caller expects */
  | 'DELTA_TARGET_MISMATCH'
  /** an operation reads outside the source image or outside its declared source extent */
  | 'DELTA_OUT_OF_SOURCE'
  /** a size in the patch exceeds the applier's limits: refused before allocating anything */
  | 'DELTA_SIZE_LIMIT'
  /** resume state does not match this patch or the target prefix on disk */
  | 'DELTA_RESUME_MISMATCH'
  /** a MEMBER op's re-encoded stream differs from the bytes the builder recorded (format v2; nothing of the op is written) */
  | 'DELTA_MEMBER_MISMATCH'

export class DeltaError extends CodedError<DeltaErrorCode> {}

export const isDeltaError = (e: unknown): e is DeltaError => e instanceof DeltaError

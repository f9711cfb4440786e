export { applyDelta, openSource, type ApplyFileOptions, type ApplyFileResult } from './apply-file.js'
export { DEFAULT_LIMITS, type ApplyInput, type ApplyLimits, type ApplyOptions, type ApplyResult } from './apply-options.js'
export { applyDeltaStream } from './apply.js'
export { DeltaError, isDeltaError, type DeltaErrorCode } from './errors.js'
export {
  MAX_CONTROL_ENTRY,
  readVarint,
  unzigzag,
  decodeHeader,
  decodeOpHeader,
  encodeControl,
  encodeHeader,
  encodeOpHeader,
  FORMAT_NAME,
  FORMAT_NAME_V2,
  FORMAT_NAME_V3,
  FORMAT_VERSION,
  FORMAT_VERSION_2,
  FORMAT_VERSION_3,
  DELTA_FORMATS_HEADER,
  deltaFormatsHeader,
  formatName,
  HEADER_SIZE,
  MAGIC,
  OP_HEADER_SIZE,
  OpType,
  type DeltaHeader,
  type OpHeader,
} from './format.js'
export { encodeSparseDiff, expandSparseDiff, sparseStreamLimit } from './sparse-diff.js'
export { loadProgress, saveProgress, type DeltaProgress } from './progress.js'
export type { SourceReader, TargetSink } from './streams.js'

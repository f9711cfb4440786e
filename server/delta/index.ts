export { makeDelta, type MakeDeltaOptions, type MakeDeltaResult } from './builder.js'
export { DeltaBuildError } from './bsdiff-window.js'
export type { BuildStats } from './region.js'

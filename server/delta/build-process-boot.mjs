// Plain-JS entry of a delta build process (build-process.ts): the builder is TypeScript,
// run through tsx's loader as the caller's own modules are (the process gets no node flags).
import { register } from 'tsx/esm/api'

register()
await import('./build-process-child.ts')

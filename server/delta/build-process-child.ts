import { DeltaBuildError } from './bsdiff-window.js'
import type { BuildMessage, BuildRequest } from './build-process.js'
import { makeDelta } from './builder.js'

// One build, then exit. The caller gone (it crashed or was killed): nothing to build for.
const send = (m: BuildMessage) => new Promise<void>((resolve) => process.send!(m, undefined, undefined, () => resolve()))
process.on('disconnect', () => process.exit(1))
process.once('message', (req: BuildRequest) => {
  makeDelta(req.oldPath, req.newPath, req.patchPath, { ...req.opts, onProgress: (progress, total) => void send({ progress, total }) })
    .then(
      (result) => send({ result }),
      (e: unknown) => send({ error: { message: (e as Error)?.message ?? String(e), ...(e instanceof DeltaBuildError ? { code: e.code } : {}) } }),
    )
    .finally(() => process.exit(0))
})
process.send!('up')

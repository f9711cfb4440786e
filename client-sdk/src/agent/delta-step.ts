/**
 * The delta leg of the `downloading` step, shared by OS images and models: the
 * patch is downloaded with the update's download settings, `installing` is
 * reported once it is verified, and the streaming applier rebuilds the target from
 * `activePath` into `targetPath`. Each durable applier checkpoint is a safe point to
 * stop at: the applier resumes from its progress record after a restart.
 */
import type { Delta } from '../../../signing/verify/index.js'
import { installDelta } from '../install/delta-image.js'
import type { UpdateRecord } from '../journal/journal.js'
import type { UpdateContext } from './context.js'
import { downloadOptions } from './download-options.js'
import { emit } from './events.js'
import { failpoint } from './failpoint.js'
import { stopPoint } from './stop.js'

export async function installDeltaUpdate(
  ctx: UpdateContext,
  u: Readonly<UpdateRecord>,
  o: { delta: Delta; patchUrl: string; activePath: string; targetPath: string },
): Promise<void> {
  await installDelta({
    ...downloadOptions(ctx),
    url: ctx.api.url(o.patchUrl),
    delta: o.delta,
    image: { sha256: u.release.sha256, length: u.release.length },
    activePath: o.activePath,
    targetPath: o.targetPath,
    stagingDir: ctx.stagingDir,
    onPatchReady: async () => {
      failpoint('patch-ready')
      await emit(ctx, u, 'installing')
    },
    applyCheckpointBytes: ctx.config.download?.checkpointBytes ?? 64 << 20,
    onApplyProgress: () => {
      failpoint('apply-checkpoint')
      stopPoint(ctx) // the applier's progress record is durable: stop here and resume from it
    },
  })
}

/**
 * Delta install: download the (small) patch into the data folder with
 * Range/If-Range resume and check it against the signed patch sha256, then let
 * the streaming applier rebuild the image from the active slot into the inactive
 * slot, resuming from its own progress record. The applier refuses a patch for
 * any target but the CI-signed release sha256 and checks every op and the whole
 * image, so nothing the server signs alone can produce an installable slot.
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Delta } from '../../../signing/verify/index.js'
import { applyDelta } from '../delta/index.js'
import { AgentError } from '../errors.js'
import { download, type DownloadOptions } from '../net/downloader.js'
import { slotSink } from './slot-sink.js'

export interface DeltaInstall extends Omit<DownloadOptions, 'sink' | 'expected'> {
  delta: Delta
  /** the CI-signed target image */
  image: { sha256: string; length: number }
  activePath: string
  targetPath: string
  /** folder for the patch and the applier's progress record */
  stagingDir: string
  /** called once the patch is on disk and verified, before the slot is opened */
  onPatchReady?: () => Promise<void>
  /** applier checkpoint interval, bytes (default 64 MiB) */
  applyCheckpointBytes?: number
  /** called after each applier progress record is durable */
  onApplyProgress?: () => void
}

export const patchPath = (dir: string, d: Delta) => join(dir, `patch-${d.patchSha256}.bin`)
export const progressPath = (dir: string, d: Delta) => join(dir, `apply-${d.patchSha256}.json`)

export async function installDelta(o: DeltaInstall): Promise<void> {
  const patch = patchPath(o.stagingDir, o.delta)
  const sink = slotSink(patch, { fresh: !o.resume || o.resume.offset === 0 })
  try {
    // the patch is staged in the data folder: a full disk there is DATA_NO_SPACE, not the slot's
    await download({ ...o, expected: { sha256: o.delta.patchSha256, length: o.delta.patchLength }, sink, sinkNoSpaceCode: 'DATA_NO_SPACE' })
    await sink.finish(o.delta.patchLength)
  } finally {
    await sink.close()
  }
  await o.onPatchReady?.()
  await checkReadable(o.activePath)
  try {
    await applyDelta(o.activePath, patch, o.targetPath, {
      expectedTargetSha256: o.image.sha256,
      // the signed assignment's patch sha256: the applier re-hashes the staged patch as it
      // reads it (a file changed since the download is refused) and then hashes each
      // target byte once, into the image hash, and nothing else: the ops' own sha256s and
      // the active slot are not hashed (on the dev OS pair 20 % of the apply's CPU; a Pi 4
      // has no SHA instructions). A wrong source makes the image hash fail at the end and
      // is then named DELTA_SOURCE_MISMATCH, after the writes instead of before, which
      // costs nothing here: the target is the inactive slot, already unclaimed in the
      // journal, or a model's partial file.
      expectedPatchSha256: o.delta.patchSha256,
      verifySource: false,
      // no decode worker: its 12-17 MB of buffers (a patch of new model layers) would take
      // the agent past 64 MB above idle (model-v3-all-layers: 62 MB without it, 64-69 with),
      // because the patch download before it leaves up to ~40 MB of HTTP chunks that V8
      // frees late. What it gives up: the all-layers install took 2.0-2.4 s with it and
      // 2.3 s without (the bare applier: 1.06-1.13 s against 1.44); other patches never use it
      decodeOnWorker: false,
      progressPath: progressPath(o.stagingDir, o.delta),
      // a spooled member (a gzip kernel or initramfs) goes through a file in the data folder
      spoolDir: o.stagingDir,
      ...(o.applyCheckpointBytes ? { checkpointBytes: o.applyCheckpointBytes } : {}),
      ...(o.onApplyProgress ? { onProgress: o.onApplyProgress } : {}),
    })
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code
    const full = errno === 'ENOSPC' || errno === 'EFBIG' || errno === 'EDQUOT'
    // the spool file is in the data folder, like the patch
    if (full && (e as { spool?: boolean }).spool) throw new AgentError('DATA_NO_SPACE', `no space left in ${o.stagingDir} for a spooled member (${errno})`, { errno }, { cause: e })
    if (full)
      throw new AgentError('SLOT_NO_SPACE', `no space left writing ${o.targetPath} (${errno})`, { errno }, { cause: e })
    if (typeof errno === 'string' && errno.startsWith('E'))
      throw new AgentError('SLOT_WRITE_FAILED', `applying the delta failed: ${(e as Error).message}`, { errno }, { cause: e })
    throw e
  }
  // the patch stays until the update ends (the staging folder is removed then): a restart
  // before the journal records `written` finds it and re-checks it instead of refetching
}

/** The delta source is the running system's slot: refuse early and clearly when it cannot be read. */
async function checkReadable(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r')
    try {
      await fh.read(Buffer.alloc(1), 0, 1, 0)
    } finally {
      await fh.close()
    }
  } catch (e) {
    throw new AgentError('ACTIVE_SLOT_UNREADABLE', `active slot ${path} cannot be read: ${(e as Error).message}`, { errno: (e as NodeJS.ErrnoException).code }, { cause: e })
  }
}

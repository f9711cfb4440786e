/**
 * Full image install: stream the artifact straight into the inactive slot (no
 * temp copy), hashing while streaming, with journal checkpoints so a restart
 * resumes with Range/If-Range where the last synced byte ends.
 */
import { download, type Checkpoint, type DownloadOptions } from '../net/downloader.js'
import { slotSink } from './slot-sink.js'

export interface FullInstall extends Omit<DownloadOptions, 'sink' | 'expected'> {
  /** the CI-signed image */
  image: { sha256: string; length: number }
  slotPath: string
}

export async function installFull(o: FullInstall): Promise<void> {
  const sink = slotSink(o.slotPath, { fresh: !o.resume || o.resume.offset === 0 })
  try {
    await download({ ...o, expected: o.image, sink })
    await sink.finish(o.image.length)
  } finally {
    await sink.close()
  }
}

export type { Checkpoint }

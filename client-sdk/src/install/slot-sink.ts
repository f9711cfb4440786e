/**
 * A slot (block device, or a plain file for file-backed slots) as a positional
 * byte sink. Opened on first use, so every check that can run before writing
 * runs before the slot is opened for writing at all. A device is written in
 * place; a regular file is created if missing and trimmed to the image length
 * at the end (as the delta applier does), so a slot never carries an older,
 * longer image's tail.
 */
import { open, stat, type FileHandle } from 'node:fs/promises'
import type { ByteSink } from '../net/downloader.js'

export interface SlotSink extends ByteSink {
  /** trim a regular file to `length` (no-op on a device) */
  finish(length: number): Promise<void>
  close(): Promise<void>
}

export function slotSink(path: string, opts: { fresh: boolean }): SlotSink {
  let fh: Promise<FileHandle> | undefined
  let device = false
  const handle = () =>
    (fh ??= (async () => {
      const st = await stat(path).catch(() => undefined)
      device = Boolean(st?.isBlockDevice())
      // fresh + regular file: start from an empty file; else write in place. 'w+', not 'w': a
      // resume whose staged file is gone re-reads its prefix, finds it short and starts over
      // (a write-only handle failed that read with EBADF, ending the update as AGENT_INTERNAL)
      return open(path, st && (device || !opts.fresh) ? 'r+' : 'w+')
    })())
  return {
    write: async (buf, position) => {
      const f = await handle()
      for (let at = 0; at < buf.length; ) at += (await f.write(buf, at, buf.length - at, position + at)).bytesWritten
    },
    read: async (buf, position) => (await (await handle()).read(buf, 0, buf.length, position)).bytesRead,
    sync: async () => (await handle()).datasync(),
    finish: async (length) => {
      const f = await handle()
      if (!device) await f.truncate(length)
      await f.datasync()
    },
    close: async () => (await fh)?.close(),
  }
}

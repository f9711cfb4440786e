import { open, rm, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ApplyOptions, ApplyResult } from './apply-options.js'
import { applyDeltaStream } from './apply.js'
import { loadProgress, saveProgress, type DeltaProgress } from './progress.js'
import type { SourceReader, TargetSink } from './streams.js'

export interface ApplyFileOptions extends ApplyOptions {
  /** file that records progress; an existing record resumes, success removes it */
  progressPath?: string
}

export interface ApplyFileResult extends ApplyResult {
  ms: number
  /** peak resident set of this process so far, bytes */
  peakRss: number
}

/** A source slot or image file read at random through one handle. */
export async function openSource(path: string): Promise<SourceReader & { close(): Promise<void> }> {
  const fh = await open(path, 'r')
  const st = await fh.stat()
  // a block device reports size 0 through stat: ask the device by seeking to its end
  const size = st.isBlockDevice() ? await deviceSize(fh) : st.size
  return {
    size,
    read: async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead,
    close: () => fh.close(),
  }
}

async function deviceSize(fh: FileHandle): Promise<number> {
  // read(2) past the end returns 0: binary-search the size in 512-byte sectors
  const probe = Buffer.alloc(1)
  let lo = 0
  let hi = 2 ** 44
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2)
    if ((await fh.read(probe, 0, 1, mid - 1)).bytesRead === 1) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * The patch file in 256 KiB chunks from a ring of four buffers (1 MiB ones cost the
 * agent's model delta install 3 MB of peak RSS). fs.createReadStream allocates a fresh
 * buffer per chunk: a 75 MB patch left ~40 MB of them for the GC to
 * find late. The reader of the chunks (ByteReader) holds at most two at a time and hands
 * out views only until its next read, so a buffer is refilled only after it is done with.
 */
async function* readChunks(path: string, start: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r')
  try {
    const ring = Array.from({ length: 4 }, () => Buffer.allocUnsafe(256 * 1024))
    for (let i = 0, at = start; ; i = (i + 1) % ring.length) {
      const { bytesRead } = await fh.read(ring[i]!, 0, ring[i]!.length, at)
      if (bytesRead === 0) return
      at += bytesRead
      yield ring[i]!.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}

/**
 * Opens the target on first use, so every check that can run before writing (header,
 * expected target, source sha256) runs before the slot is opened for writing at all.
 */
function lazyFileSink(path: string, flags: string): TargetSink & { close(): Promise<void>; handle(): Promise<FileHandle> } {
  let fh: Promise<FileHandle> | undefined
  const handle = () => (fh ??= open(path, flags))
  return {
    handle,
    write: async (buf, position) => {
      const f = await handle()
      for (let at = 0; at < buf.length; ) at += (await f.write(buf, at, buf.length - at, position + at)).bytesWritten
    },
    read: async (buf, position) => (await (await handle()).read(buf, 0, buf.length, position)).bytesRead,
    sync: async () => (await handle()).datasync(),
    close: async () => (await fh)?.close(),
  }
}

/**
 * Applies `patch` (a file path or any byte stream, e.g. an HTTP response) to the source
 * image at `sourcePath`, writing `targetPath` (a file or the inactive slot's device).
 */
export async function applyDelta(
  sourcePath: string,
  patch: string | AsyncIterable<Uint8Array>,
  targetPath: string,
  opts: ApplyFileOptions = {},
): Promise<ApplyFileResult> {
  const started = Date.now()
  const resume = opts.resume ?? (opts.progressPath ? await loadProgress(opts.progressPath) : undefined)
  const existing = await stat(targetPath).catch(() => undefined)
  // a device is written in place; a regular file is recreated unless we resume into it
  const flags = resume || existing?.isBlockDevice() ? 'r+' : 'w'
  const source = await openSource(sourcePath)
  const target = lazyFileSink(targetPath, flags)
  // a patch file we open we also close: a failed apply stops reading mid-file, and only
  // return() runs the reader's finally (else its handle waits for the garbage collector)
  const patchFile = typeof patch === 'string' ? readChunks(patch, resume && opts.patchStartsAtResume ? resume.patchOffset : 0) : undefined
  try {
    const patchStream = patchFile ?? (patch as AsyncIterable<Uint8Array>)
    const result = await applyDeltaStream(
      { source, patch: patchStream, sink: target },
      {
        ...opts,
        resume,
        // a spooled member's scratch beside a target file; a slot device's folder is /dev
        ...(opts.spoolDir || existing?.isBlockDevice() ? {} : { spoolDir: dirname(targetPath) }),
        // checkpoints even with no one to keep the record: their syncs, in the background,
        // start the writeback early, so the final sync is short (without them the 2-layer
        // model pair's apply went from 0.41 to 0.77 s: one sync of 194 MB at the end)
        onProgress: async (p: DeltaProgress) => {
          if (opts.progressPath) await saveProgress(opts.progressPath, p)
          await opts.onProgress?.(p)
        },
      },
    )
    if (!existing?.isBlockDevice()) await (await target.handle()).truncate(result.targetSize)
    if (opts.progressPath) await rm(opts.progressPath, { force: true })
    return { ...result, ms: Date.now() - started, peakRss: process.resourceUsage().maxRSS * 1024 }
  } finally {
    await patchFile?.return(undefined)
    await target.close()
    await source.close()
  }
}

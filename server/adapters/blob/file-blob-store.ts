/**
 * Content-addressed blobs on a local file system: the embedded default.
 *
 * Layout: `<root>/sha256/<first 2 hex>/<sha256>` for committed blobs (the fan-out
 * keeps directories small) and `<root>/tmp/` for staging. `tmp/` sits under the
 * same root so that the commit is a rename(2) on one file system: atomic, so a
 * reader sees either no blob or the whole verified blob, never a half one.
 */
import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { access, copyFile, type FileHandle, link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BlobNotFound, DependencyUnavailable } from '../../domain/errors.js'
import type { BlobInfo, BlobStore, ByteRange } from '../../domain/ports/infrastructure.js'
import { clampRange } from './byte-range.js'
import { assertSha256, HashingStream, verifyDigest } from './digest.js'

export interface FileBlobStoreOptions {
  /** Directory that holds `sha256/` and `tmp/`; created by `init()` if missing. */
  root: string
}

/** Staging files older than this are leftovers of a crashed writer (no upload takes a day). */
const STALE_TMP_MS = 24 * 60 * 60 * 1000

const READ_CHUNK = 1024 * 1024

export class FileBlobStore implements BlobStore {
  private readonly root: string
  private readonly blobDir: string
  private readonly tmpDir: string

  constructor(opts: FileBlobStoreOptions) {
    this.root = opts.root
    this.blobDir = join(opts.root, 'sha256')
    this.tmpDir = join(opts.root, 'tmp')
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
    await this.removeStaleTemps()
  }

  /** Where a blob lives (or would live), for serving it with sendfile. */
  path(sha256: string): string {
    assertSha256(sha256)
    return join(this.blobDir, sha256.slice(0, 2), sha256)
  }

  /** The same, under the store's root: what nginx appends to its alias (X-Accel-Redirect). */
  relativePath(sha256: string): string {
    return relative(this.root, this.path(sha256))
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    try {
      return { sha256, length: (await stat(this.path(sha256))).size }
    } catch (e) {
      if (hasCode(e, 'ENOENT')) return undefined
      throw e
    }
  }

  async put(content: Readable, expected?: Partial<BlobInfo>): Promise<BlobInfo> {
    if (expected?.sha256 !== undefined) assertSha256(expected.sha256)
    const tmp = this.tmpPath()
    try {
      const hasher = new HashingStream()
      const fh = await open(tmp, 'wx')
      try {
        // Write through our own handle so that we can fsync it: the data must be on
        // disk before the rename makes it visible, or a crash could expose a hole.
        await pipeline(content, hasher, async (chunks: AsyncIterable<Buffer>) => {
          for await (const chunk of chunks) await writeAll(fh, chunk)
        })
        await fh.sync()
      } finally {
        await fh.close()
      }
      const actual = hasher.result()
      verifyDigest(expected, actual)
      // Renaming over an existing blob is harmless: same address, same bytes.
      await this.commit(tmp, actual.sha256)
      return actual
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }

  /**
   * Hard-link (or rename, when consuming) the file into place: no copy of a
   * multi-GB image when the upload area is on the same file system. Falls back to
   * a copy through `tmp/` across file systems. A linked source shares its inode
   * with the blob, so the caller must not modify it in place afterwards.
   */
  async putFile(path: string, info: BlobInfo, opts: { consume?: boolean } = {}): Promise<void> {
    const final = this.path(info.sha256)
    const dir = dirname(final)
    const createdDir = await mkdir(dir, { recursive: true })
    try {
      if (opts.consume) await rename(path, final)
      else await link(path, final)
    } catch (e) {
      if (hasCode(e, 'EEXIST')) {
        // Already stored; content addressing means it holds the same bytes.
        if (opts.consume) await rm(path, { force: true })
        return
      }
      // EXDEV: another file system; EPERM: a file system without hard links.
      if (!hasCode(e, 'EXDEV') && !hasCode(e, 'EPERM')) throw e
      await this.copyIn(path, final)
      if (opts.consume) await rm(path, { force: true })
    }
    await fsyncPath(final)
    await fsyncPath(dir)
    if (createdDir !== undefined) await fsyncPath(this.blobDir)
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    let fh
    try {
      fh = await open(this.path(sha256), 'r')
    } catch (e) {
      if (hasCode(e, 'ENOENT')) throw new BlobNotFound(sha256)
      throw e
    }
    try {
      // 1 MiB reads: far fewer syscalls and socket writes per GB than the 64 KiB default
      if (!range) return fh.createReadStream({ highWaterMark: READ_CHUNK })
      const { start, end } = clampRange(sha256, range, (await fh.stat()).size)
      // The stream owns the handle from here (autoClose) and closes it at end or destroy.
      return fh.createReadStream({ start, end, highWaterMark: READ_CHUNK })
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /** Local files have no URL of their own; the HTTP layer serves `path()` instead. */
  async presignedGetUrl(sha256: string, _expirySeconds: number, _issuedFor?: string): Promise<string | undefined> {
    assertSha256(sha256)
    return undefined
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true })
  }

  async ping(): Promise<void> {
    try {
      await access(this.blobDir, constants.W_OK)
      await access(this.tmpDir, constants.W_OK)
    } catch (e) {
      throw new DependencyUnavailable(`blob store (directory ${this.root})`, e)
    }
  }

  private tmpPath(): string {
    return join(this.tmpDir, randomUUID())
  }

  /** Atomically publish a verified staging file under its address, durably. */
  private async commit(tmp: string, sha256: string): Promise<void> {
    const final = this.path(sha256)
    const dir = dirname(final)
    const createdDir = await mkdir(dir, { recursive: true })
    await rename(tmp, final)
    // fsync the directory so the new name survives a power cut, and the parent
    // too when the fan-out directory itself is new.
    await fsyncPath(dir)
    if (createdDir !== undefined) await fsyncPath(this.blobDir)
  }

  private async copyIn(source: string, final: string): Promise<void> {
    const tmp = this.tmpPath()
    try {
      // FICLONE: a reflink (copy-on-write, instant) where the file system has them.
      await copyFile(source, tmp, constants.COPYFILE_FICLONE)
      await fsyncPath(tmp)
      await rename(tmp, final)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }

  private async removeStaleTemps(): Promise<void> {
    const now = Date.now()
    for (const name of await readdir(this.tmpDir)) {
      const p = join(this.tmpDir, name)
      const s = await stat(p).catch(() => undefined)
      if (s && now - s.mtimeMs > STALE_TMP_MS) await rm(p, { force: true })
    }
  }
}

/** write(2) may write less than asked; loop until the whole chunk is down. */
async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await fh.write(chunk, offset)).bytesWritten
  }
}

/** fsync a file or a directory by path (a read-only descriptor is enough on Linux). */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

function hasCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code
}

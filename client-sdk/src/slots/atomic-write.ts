/**
 * Replace a file so that a reader (or a power cut) sees the old content or the new,
 * never a mix: write a temp file in the same folder, fsync it, rename it over the
 * target, fsync the folder so the rename itself is durable.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r')
  try {
    await fd.sync()
  } catch (e) {
    // some filesystems (vfat on older kernels) refuse fsync on a directory; the rename is still done
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e
  } finally {
    await fd.close()
  }
}

export const tempSibling = (path: string) => join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempSibling(path)
  try {
    const fd = await open(tmp, 'wx', mode)
    try {
      await fd.writeFile(data)
      await fd.sync()
    } finally {
      await fd.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
  await fsyncDir(dirname(path))
}

/**
 * Durable small files: write a temp file, fsync it, rename it over the old one,
 * fsync the folder. After a crash at any point the path holds either the old
 * content or the new one, never a mix (POSIX rename is atomic; the folder fsync
 * makes the rename itself survive power loss).
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface WriteOptions {
  /** file mode of a new file, e.g. 0o600 for a credential */
  mode?: number
}

export async function writeFileDurable(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  const fh = await open(tmp, 'w', opts.mode ?? 0o644)
  try {
    // open() honours the umask; set the mode explicitly so a 0600 credential never lands wider
    if (opts.mode !== undefined) await fh.chmod(opts.mode)
    await fh.writeFile(data)
    await fh.sync()
  } catch (e) {
    await fh.close()
    await rm(tmp, { force: true })
    throw e
  }
  await fh.close()
  await rename(tmp, path)
  await syncDir(dirname(path))
}

/** fsync a folder so the names in it (a rename, a new file) survive power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export async function writeJsonDurable(path: string, value: unknown, opts?: WriteOptions): Promise<void> {
  await writeFileDurable(path, `${JSON.stringify(value, null, 1)}\n`, opts)
}

/** The parsed file, or undefined when it does not exist. A file that is not JSON throws (SyntaxError). */
export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  return JSON.parse(text) as T
}

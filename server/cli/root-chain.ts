/**
 * A root chain on disk: a folder of `1.root.json`, `2.root.json`, … (the TUF
 * file naming), as `slipway keys` writes it and `release verify` reads it. Each
 * file holds the canonical wire bytes exactly as signed.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UsageError } from './args.js'

const NAME = /^([1-9]\d*)\.root\.json$/

/** Every root of the chain in `dir`, version 1 first; refuses gaps. */
export async function readChain(dir: string): Promise<Buffer[]> {
  const files = await readdir(dir).catch(() => {
    throw new UsageError(`${dir} is not a readable folder`)
  })
  const versions = files.map((f) => NAME.exec(f)?.[1]).filter((v): v is string => v !== undefined).map(Number).sort((a, b) => a - b)
  if (versions.length === 0) throw new UsageError(`${dir} holds no N.root.json files`)
  versions.forEach((v, i) => {
    if (v !== i + 1) throw new UsageError(`${dir}: root chain has a gap: ${i + 1}.root.json is missing`)
  })
  return Promise.all(versions.map((v) => readRootFile(join(dir, `${v}.root.json`))))
}

/** A root file; a trailing newline an editor added is dropped (the signatures cover the canonical bytes). */
export async function readRootFile(path: string): Promise<Buffer> {
  const bytes = await readFile(path).catch(() => {
    throw new UsageError(`cannot read ${path}`)
  })
  return bytes.subarray(0, bytes.length - (/\s*$/.exec(bytes.toString('latin1'))?.[0].length ?? 0))
}

/** Write root `version` into `dir`; never overwrites a published version. */
export async function writeRoot(dir: string, version: number, bytes: Uint8Array): Promise<string> {
  const path = join(dir, `${version}.root.json`)
  await writeFile(path, bytes, { flag: 'wx', mode: 0o644 }).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(e.code === 'EEXIST' ? `${path} already exists` : `cannot write ${path}: ${e.message}`)
  })
  return path
}

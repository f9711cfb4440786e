import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import bsdiff from 'bsdiff-node'

/** bsdiff's three streams, decoded: what a BSDIFF op carries once re-encoded with brotli */
export interface BsdiffStreams {
  control: Array<[number, number, number]>
  diff: Buffer
  extra: Buffer
}

export class DeltaBuildError extends Error {
  constructor(
    readonly code: 'DELTA_BUILD_BSDIFF' | 'DELTA_BUILD_VERIFY' | 'DELTA_BUILD_INPUT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'DeltaBuildError'
  }
}

/**
 * Runs bsdiff-node (file paths only, libuv pool, ~17× the old window in memory) on one
 * window and decodes its BSDIFF40 output. The bzip2 streams are decoded with the system
 * `bzip2` (Debian's, already a dependency of bsdiff itself): it runs beside Node on the
 * other core, is far faster than a JS decoder, and keeps bzip2 out of the device's applier.
 */
export async function bsdiffWindow(dir: string, tag: string, oldBuf: Buffer, newBuf: Buffer): Promise<BsdiffStreams> {
  const oldPath = join(dir, `${tag}.old`)
  const newPath = join(dir, `${tag}.new`)
  const patchPath = join(dir, `${tag}.bsdiff`)
  try {
    await writeFile(oldPath, oldBuf)
    await writeFile(newPath, newBuf)
    await bsdiff.diff(oldPath, newPath, patchPath)
    return await decodeBsdiff40(await readFile(patchPath), newBuf.length)
  } catch (e) {
    throw e instanceof DeltaBuildError ? e : new DeltaBuildError('DELTA_BUILD_BSDIFF', `bsdiff failed: ${String(e)}`, { cause: e })
  } finally {
    await Promise.all([oldPath, newPath, patchPath].map((p) => rm(p, { force: true })))
  }
}

/** BSDIFF40 integers: 8 bytes little-endian magnitude, sign in the top bit */
function offtin(b: Buffer, at: number): number {
  const hi = b[at + 7]!
  const mag = Number(b.readBigUInt64LE(at) & 0x7fff_ffff_ffff_ffffn)
  return hi & 0x80 ? -mag : mag
}

export async function decodeBsdiff40(patch: Buffer, newSize: number): Promise<BsdiffStreams> {
  if (patch.length < 32 || patch.toString('latin1', 0, 8) !== 'BSDIFF40') {
    throw new DeltaBuildError('DELTA_BUILD_BSDIFF', 'bsdiff output is not BSDIFF40')
  }
  const ctrlLen = offtin(patch, 8)
  const diffLen = offtin(patch, 16)
  if (offtin(patch, 24) !== newSize || ctrlLen < 0 || diffLen < 0 || 32 + ctrlLen + diffLen > patch.length) {
    throw new DeltaBuildError('DELTA_BUILD_BSDIFF', 'inconsistent BSDIFF40 header')
  }
  const [ctrl, diff, extra] = await Promise.all([
    bunzip2(patch.subarray(32, 32 + ctrlLen)),
    bunzip2(patch.subarray(32 + ctrlLen, 32 + ctrlLen + diffLen)),
    bunzip2(patch.subarray(32 + ctrlLen + diffLen)),
  ])
  const control: Array<[number, number, number]> = []
  for (let at = 0; at + 24 <= ctrl.length; at += 24) control.push([offtin(ctrl, at), offtin(ctrl, at + 8), offtin(ctrl, at + 16)])
  return { control, diff, extra }
}

function bunzip2(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('error', (e) => reject(new DeltaBuildError('DELTA_BUILD_BSDIFF', `cannot run bzip2: ${e.message}`, { cause: e })))
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new DeltaBuildError('DELTA_BUILD_BSDIFF', `bzip2 -d failed: ${err.trim()}`)),
    )
    child.stdin.on('error', () => {}) // a failing child closes stdin early; 'close' reports why
    child.stdin.end(data)
  })
}

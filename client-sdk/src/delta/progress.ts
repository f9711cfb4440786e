import { open, rename } from 'node:fs/promises'
import { readJson } from '../journal/atomic-file.js'
import { DeltaError } from './errors.js'
import { decodeHeader, type DeltaHeader } from './format.js'

/**
 * Where an interrupted apply can pick up: an op boundary. The image hash cannot be
 * serialised mid-stream, so instead we keep the sha256 of the target prefix written so
 * far; on resume the prefix is re-read from the slot, re-hashed (which both restores the
 * running image hash and proves the slot still holds what we verified) and compared.
 */
export interface DeltaProgress {
  format: 1
  /** the patch header (base64), binding this record to one patch */
  header: string
  /** ops fully written and synced */
  opsDone: number
  /** offset in the patch of the next op header: where an HTTP Range request resumes */
  patchOffset: number
  /** bytes of the target written and synced */
  targetOffset: number
  /** sha256 (hex) of target[0, targetOffset) */
  prefixSha256: string
}

export function decodeProgress(p: DeltaProgress, header: DeltaHeader): void {
  const ok =
    p.format === 1 &&
    Number.isSafeInteger(p.opsDone) &&
    p.opsDone >= 0 &&
    p.opsDone <= header.opCount &&
    Number.isSafeInteger(p.targetOffset) &&
    p.targetOffset >= 0 &&
    p.targetOffset <= header.targetSize &&
    Number.isSafeInteger(p.patchOffset) &&
    /^[0-9a-f]{64}$/.test(p.prefixSha256)
  if (!ok) throw new DeltaError('DELTA_RESUME_MISMATCH', 'resume state is malformed')
}

/** Atomic replace (write, fsync, rename): a crash leaves the old record or the new one, never half. */
export async function saveProgress(path: string, p: DeltaProgress): Promise<void> {
  const tmp = `${path}.tmp`
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(JSON.stringify(p))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
}

/** The saved record, or undefined when there is none (a fresh apply). */
export async function loadProgress(path: string): Promise<DeltaProgress | undefined> {
  const p = await readJson<DeltaProgress>(path)
  if (p === undefined) return undefined
  decodeProgress(p, decodeHeader(Buffer.from(p.header, 'base64')))
  return p
}

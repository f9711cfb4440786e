/**
 * Download progress in view (issue 12 §6): `status` (another process) reads
 * `<dataDir>/progress.json`, rewritten at most once a second (not fsynced: it
 * is a display, the journal's checkpoint stays the truth), and the server gets
 * a `downloading` event with `progress` when 10 s have passed or 5% more has
 * arrived since the last one, whichever comes first.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { UpdateContext } from './context.js'
import { emitProgress } from './events.js'

export interface ProgressView {
  updateId: string
  release: string
  bytes: number
  total: number
  at: string
}

const FILE_EVERY_MS = 1000
const EVENT_EVERY_MS = 10_000
const EVENT_EVERY_FRACTION = 0.05

export const progressFile = (dataDir: string) => join(dataDir, 'progress.json')

export function progressTracker(ctx: UpdateContext): (bytes: number, total: number) => void {
  let fileAt = 0
  let event = { at: Date.now(), bytes: 0, updateId: '' }
  return (bytes, total) => {
    const u = ctx.journal.update
    if (!u) return
    const now = Date.now()
    if (event.updateId !== u.id) event = { at: now, bytes: 0, updateId: u.id }
    if (now - fileAt >= FILE_EVERY_MS || bytes === total) {
      fileAt = now
      const view: ProgressView = { updateId: u.id, release: `${u.release.name}@${u.release.version}`, bytes, total, at: new Date(now).toISOString() }
      void writeFile(progressFile(ctx.config.dataDir), JSON.stringify(view)).catch(() => undefined)
    }
    // the end of a download is not news: `installing` (or the failure) follows at once
    if (bytes < total && (now - event.at >= EVENT_EVERY_MS || bytes - event.bytes >= total * EVENT_EVERY_FRACTION)) {
      event = { at: now, bytes, updateId: u.id }
      // not awaited: reporting never holds the download up
      void emitProgress(ctx, u, bytes, total)
    }
  }
}

export async function readProgress(dataDir: string): Promise<ProgressView | undefined> {
  try {
    return JSON.parse(await readFile(progressFile(dataDir), 'utf8')) as ProgressView
  } catch {
    return undefined
  }
}

export const clearProgress = (dataDir: string) => rm(progressFile(dataDir), { force: true }).catch(() => undefined)

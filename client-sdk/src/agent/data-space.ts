/**
 * Room for the journal and the outbox when the data folder fills (issue 12 §6).
 * A small reserve file is kept in the data folder; when a write there fails
 * with ENOSPC, the staging folder and the reserve are given up so that the
 * `failed` step can still be journaled and its report queued and sent. Before
 * a download into the data folder starts, its free space is checked.
 */
import { open, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { AgentError } from '../errors.js'
import type { UpdateContext } from './context.js'

/** bytes kept back for the journal and the outbox */
export const RESERVE_BYTES = 256 * 1024

const reservePath = (dataDir: string) => join(dataDir, 'reserve.bin')

/** Create the reserve if it is missing (best effort: a full folder just logs). */
export async function keepReserve(dataDir: string, log: UpdateContext['log']): Promise<void> {
  try {
    const fh = await open(reservePath(dataDir), 'wx').catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)))
    if (!fh) return
    try {
      await fh.write(Buffer.alloc(RESERVE_BYTES))
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch (e) {
    await rm(reservePath(dataDir), { force: true }).catch(() => undefined)
    log('warn', 'no room for the data folder reserve', { message: (e as Error).message })
  }
}

/** Free what the agent can in the data folder: staging and the reserve. */
export async function freeDataSpace(ctx: Pick<UpdateContext, 'config' | 'stagingDir'>): Promise<void> {
  await rm(ctx.stagingDir, { recursive: true, force: true }).catch(() => undefined)
  await rm(reservePath(ctx.config.dataDir), { force: true }).catch(() => undefined)
}

/** Refuse to start a download of `bytes` into the data folder that cannot fit (DATA_NO_SPACE). */
export async function checkDataSpace(ctx: Pick<UpdateContext, 'config'>, bytes: number): Promise<void> {
  const st = await statfs(ctx.config.dataDir)
  const free = Number(st.bavail) * Number(st.bsize)
  if (free < bytes + RESERVE_BYTES)
    throw new AgentError('DATA_NO_SPACE', `the data folder ${ctx.config.dataDir} has ${free} bytes free; the download needs ${bytes} and ${RESERVE_BYTES} stay for the journal and reports`, {
      free,
      needed: bytes,
    })
}

/** ENOSPC that no adapter translated comes from the data folder (journal, outbox, staging). */
export function isRawNoSpace(e: unknown): boolean {
  const err = e as { name?: string; code?: unknown }
  return !['AgentError', 'TrustError', 'DeltaError', 'ModelError', 'SlotError'].includes(String(err?.name)) && ['ENOSPC', 'EDQUOT'].includes(String(err?.code))
}

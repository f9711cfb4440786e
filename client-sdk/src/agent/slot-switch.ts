/**
 * Rollback and re-install without downloading (issue 12 §2). A fleet rollback
 * assigns the release the device just left, and that release is still in the
 * other slot (or the other model slot): before downloading, the agent hashes
 * that slot against the CI-signed sha256 and, when it matches, only switches.
 *
 * Which slot is worth hashing: one whose last verified content (the journal's
 * `slots` claim, or the model slot's manifest) is the target; with no claim at
 * all (an agent upgraded from a version that kept none), a fleet rollback is
 * still worth one read. A claim that hashes differently falls back to a
 * download, and the `downloading` event says why.
 */
import type { Reason } from '../errors.js'
import type { UpdateRecord } from '../journal/journal.js'
import { slotHolds } from '../install/verify-slot.js'
import type { UpdateContext } from './context.js'

export type SlotCheck = NonNullable<UpdateRecord['slotCheck']>

/** `claimedSha256`: what the slot last held, if known. */
export function worthChecking(u: Pick<UpdateRecord, 'action' | 'release'>, claimedSha256: string | undefined): boolean {
  return claimedSha256 !== undefined ? claimedSha256 === u.release.sha256 : u.action === 'rollback'
}

/** Hash `path` against the signed release (the record goes into the journal either way). */
export async function checkSlot(ctx: UpdateContext, u: Pick<UpdateRecord, 'release'>, slot: string, path: string): Promise<SlotCheck> {
  const matched = await slotHolds(path, { sha256: u.release.sha256, length: u.release.length })
  ctx.log(matched ? 'info' : 'warn', matched ? 'the other slot holds the target: switching without a download' : 'the other slot does not hold the target: downloading', {
    slot,
    release: `${u.release.name}@${u.release.version}`,
  })
  return { slot, sha256: u.release.sha256, matched, at: new Date().toISOString() }
}

/** Why a download happens although a slot claimed the target (reported with `downloading`). */
export function fallbackReason(u: Pick<UpdateRecord, 'slotCheck'>): Reason | undefined {
  const c = u.slotCheck
  if (!c || c.matched) return undefined
  return { code: 'SLOT_CLAIM_MISMATCH', message: `slot ${c.slot} was expected to hold ${c.sha256} but hashes differently: downloading instead` }
}

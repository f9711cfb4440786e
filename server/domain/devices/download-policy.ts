/**
 * What a device may download, and how much (issue 10 §3).
 *
 * A device downloads only the blobs its current or previous assignment names (the
 * image, the delta patch or the model). Anything else is the same 404 as a blob that
 * does not exist, decided before the blob store is asked, so neither the answer nor
 * its timing tells whether a blob exists.
 *
 * Per device and blob, the bytes downloaded over a sliding window are counted in the
 * database (every replica sees the same ledger); past `factor` × the blob's length the
 * download is refused with 429 DOWNLOAD_BUDGET_EXCEEDED. Repeated whole downloads of a
 * model are the red flag of model theft; an honest agent resumes with Range and stays
 * near 1×.
 */
import { randomUUID } from 'node:crypto'
import { BlobNotFound, SlipwayError } from '../errors.js'
import type { DevicePollContext, StoredAssignment } from '../fleet-model.js'
import type { GrantedBlob, OfferFormat } from '../rollouts/offer-format.js'
import type { QuarantineService } from './quarantine-service.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'

export interface DownloadBudget {
  /** a device may download each blob this many times its length per window (default 3) */
  factor: number
  /** the sliding window, seconds (default 24 h) */
  windowSeconds: number
  /** quarantine a device the first time it exceeds a budget (default false: refuse only) */
  quarantine: boolean
}

export type { GrantedBlob } from '../rollouts/offer-format.js'

/** A download counted in the ledger; `settle` corrects it to the bytes actually sent. */
export interface Reservation {
  id: string
  settle(sentBytes: number): Promise<void>
}

/** The blobs an assignment names (its served document: the artifact and, with a delta, the patch). */
export function blobsNamedBy(a: Pick<StoredAssignment, 'body' | 'withdrawnAt'> | undefined, format: OfferFormat): GrantedBlob[] {
  if (!a || a.withdrawnAt) return []
  return format.blobs(a.body)
}

/** Whether an error is the budget refusal (for the metric). */
export const isBudgetExceeded = (e: unknown): boolean => e instanceof SlipwayError && e.code === 'DOWNLOAD_BUDGET_EXCEEDED'

export class DownloadPolicy {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly budget: DownloadBudget,
    private readonly quarantine: Pick<QuarantineService, 'quarantine'>,
    /** reads the blobs out of a stored assignment */
    private readonly offers: OfferFormat,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The blob with its length when the device's current or previous assignment names it; else BlobNotFound. */
  async allowed(device: DevicePollContext, sha256: string): Promise<GrantedBlob> {
    const current = blobsNamedBy(device.assignment, this.offers).find((b) => b.sha256 === sha256)
    if (current) return current
    const previous = await this.fleet.downloads.previousBlob(device.id, sha256)
    if (previous) return previous
    throw new BlobNotFound(sha256)
  }

  /**
   * Counts `bytes` of `blob` against the device's budget before they go out. The row is
   * written first and the window summed after, so concurrent requests (on any replica)
   * see each other; a refused request's row is removed again.
   */
  async reserve(deviceId: string, blob: GrantedBlob, bytes: number): Promise<Reservation> {
    const now = this.now()
    const at = now.toISOString()
    const since = new Date(now.getTime() - this.budget.windowSeconds * 1000).toISOString()
    const id = randomUUID()
    await this.fleet.downloads.record({ id, deviceId, sha256: blob.sha256, bytes, at })
    const used = await this.fleet.downloads.since(deviceId, blob.sha256, since)
    const limit = Math.floor(this.budget.factor * blob.length)
    if (used.bytes <= limit) return { id, settle: (sent) => (sent < bytes ? this.fleet.downloads.settle(id, sent) : Promise.resolve()) }
    await this.fleet.downloads.remove(id)
    const windowEnds = used.oldest ? Date.parse(used.oldest) + this.budget.windowSeconds * 1000 : now.getTime()
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEnds - now.getTime()) / 1000))
    await this.flag(deviceId, blob, limit, at, since)
    throw new SlipwayError('rate-limited', 'DOWNLOAD_BUDGET_EXCEEDED', `this device downloaded this blob ${this.budget.factor}× its length within ${this.budget.windowSeconds} s`, {
      sha256: blob.sha256,
      budgetBytes: limit,
      windowSeconds: this.budget.windowSeconds,
      retryAfterSeconds,
    })
  }

  /**
   * The first refusal per device and blob in a window writes an audit entry (and, by
   * policy, quarantines); later ones only count, so a flood of refused requests cannot
   * flood the audit log. The marker is a zero-byte ledger row under another key.
   */
  private async flag(deviceId: string, blob: GrantedBlob, limit: number, at: string, since: string): Promise<void> {
    const marker = `refused:${blob.sha256}`
    const first = await this.fleet.transaction(async (tx) => {
      if ((await tx.downloads.since(deviceId, marker, since)).oldest) return false
      await tx.downloads.record({ id: randomUUID(), deviceId, sha256: marker, bytes: 0, at })
      await tx.audit.append(
        {
          actor: 'system:download-budget',
          action: 'device.download-budget-exceeded',
          subject: `device:${deviceId}`,
          reason: `downloads of blob ${blob.sha256} passed ${this.budget.factor}× its length within ${this.budget.windowSeconds} s`,
          before: null,
          after: { sha256: blob.sha256, budgetBytes: limit, windowSeconds: this.budget.windowSeconds, quarantine: this.budget.quarantine },
        },
        at,
      )
      return true
    })
    if (first && this.budget.quarantine)
      await this.quarantine.quarantine(deviceId, `download budget exceeded for blob ${blob.sha256}`, 'system:download-budget').catch((e: unknown) => {
        // a concurrent refusal or an operator quarantined it first: the outcome stands
        if (!(e instanceof SlipwayError && e.code === 'DEVICE_ALREADY_QUARANTINED')) throw e
      })
  }

  /** Deletes ledger rows that fell out of every window (the rollout tick calls it now and then). */
  prune(): Promise<number> {
    return this.fleet.downloads.prune(new Date(this.now().getTime() - this.budget.windowSeconds * 1000).toISOString())
  }
}

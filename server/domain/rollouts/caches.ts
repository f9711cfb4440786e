/**
 * Read caches for the poll path. Releases never change once published; rollouts change
 * on transitions, so they are cached for at most `ttlMs` (other replicas see a
 * transition within that time) and dropped at once by this process's own transitions.
 */
import type { Release } from '../model.js'
import type { ReleaseRepository } from '../ports/repositories.js'
import type { Rollout } from '../fleet-model.js'
import type { RolloutRepository } from '../ports/fleet-repositories.js'

/** Completed rollouts still offered to matching devices that lack their release. */
const COMPLETED_OFFERED = 20

export class FleetCaches {
  private releases = new Map<string, Release>()
  private liveAt = 0
  private liveList: Promise<Rollout[]> | undefined
  private byId = new Map<string, { at: number; r: Promise<Rollout | undefined> }>()

  constructor(
    private readonly releaseRepo: ReleaseRepository,
    private readonly rolloutRepo: RolloutRepository,
    private readonly ttlMs = 1000,
  ) {}

  async release(id: string): Promise<Release | undefined> {
    const hit = this.releases.get(id)
    if (hit) return hit
    const r = await this.releaseRepo.findById(id)
    if (r) this.releases.set(id, r)
    return r
  }

  async releaseByNameVersion(name: string, version: string): Promise<Release | undefined> {
    const r = await this.releaseRepo.findByNameVersion(name, version)
    if (r) this.releases.set(r.id, r)
    return r
  }

  /**
   * Rollouts the poll considers, newest first: running and paused ones, and recently
   * completed ones (a completed rollout keeps reaching devices that match it, such as
   * devices enrolled later).
   */
  live(): Promise<Rollout[]> {
    const now = Date.now()
    if (!this.liveList || now - this.liveAt > this.ttlMs) {
      this.liveAt = now
      this.liveList = this.rolloutRepo.offering(COMPLETED_OFFERED)
      this.liveList.catch(() => (this.liveList = undefined))
    }
    return this.liveList
  }

  rollout(id: string): Promise<Rollout | undefined> {
    const now = Date.now()
    const hit = this.byId.get(id)
    if (hit && now - hit.at <= this.ttlMs) return hit.r
    const r = this.rolloutRepo.findById(id)
    r.catch(() => this.byId.delete(id))
    this.byId.set(id, { at: now, r })
    if (this.byId.size > 10_000) this.byId.clear()
    return r
  }

  invalidate(): void {
    this.liveList = undefined
    this.byId.clear()
  }
}

/**
 * Per-replica cache of what a poll reads (the device by its credential hash, what it
 * runs, its stored assignment), so that a poll that changes nothing reads no database.
 * Correctness rests on invalidation, not on expiry: every write to a device, its
 * installed set or its assignment drops its entry here at once and on every other
 * replica through the change bus (device-changes.ts). The expiry only bounds a lost
 * notice; the Redis bus also clears everything when it reconnects (notices may be lost).
 * Misses are never cached: an unknown or revoked credential always reaches the database.
 */
import type { DevicePollContext } from './model.js'
import type { DeviceRepository } from './repositories.js'

export interface DeviceCacheOptions {
  /** longest an entry is served without a change notice, milliseconds (0: no cache) */
  ttlMs: number
  /** entries kept per replica; the oldest go first */
  maxEntries: number
}

interface Entry {
  ctx: DevicePollContext
  at: number
}

export class DevicePollCache implements Pick<DeviceRepository, 'findByCredentialHash'> {
  private readonly entries = new Map<string, Entry>()
  private readonly hashesOf = new Map<string, Set<string>>()
  /** bumped by every invalidation; a read keeps what it read only if its device was not invalidated since it started */
  private generation = 0
  private allForgottenAt = 0
  private readonly forgottenAt = new Map<string, number>()
  private reading = 0

  constructor(
    private readonly devices: Pick<DeviceRepository, 'findByCredentialHash'>,
    private readonly opts: DeviceCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async findByCredentialHash(hash: string): Promise<DevicePollContext | undefined> {
    const hit = this.entries.get(hash)
    if (hit && this.now() - hit.at < this.opts.ttlMs) return hit.ctx
    if (hit) this.drop(hash, hit.ctx.id)
    const started = this.generation
    this.reading++
    let ctx: DevicePollContext | undefined
    try {
      ctx = await this.devices.findByCredentialHash(hash)
      // a change committed while we read may have been announced already: do not keep what we read
      const stale = this.allForgottenAt > started || (ctx !== undefined && (this.forgottenAt.get(ctx.id) ?? 0) > started)
      if (ctx && !stale && this.opts.ttlMs > 0 && this.opts.maxEntries > 0) this.store(hash, ctx)
    } finally {
      // the marks only matter to reads in flight
      if (--this.reading === 0) this.forgottenAt.clear()
    }
    return ctx
  }

  /** This process moved the device's last-seen to `at` (exact) or found it at least `at`: keep the copy in step, so the next poll does not write again. */
  seen(deviceId: string, at: string, exact: boolean): void {
    for (const hash of this.hashesOf.get(deviceId) ?? []) {
      const e = this.entries.get(hash)
      if (e && (exact || e.ctx.lastSeenAt === null || e.ctx.lastSeenAt < at)) e.ctx = { ...e.ctx, lastSeenAt: at }
    }
  }

  /** Drops the entries of these devices, or of every device ('*'). */
  forget(deviceIds: readonly string[] | '*'): void {
    const generation = ++this.generation
    if (deviceIds === '*') {
      this.allForgottenAt = generation
      this.entries.clear()
      this.hashesOf.clear()
      return
    }
    for (const id of deviceIds) {
      if (this.reading > 0) this.forgottenAt.set(id, generation)
      for (const hash of this.hashesOf.get(id) ?? []) this.entries.delete(hash)
      this.hashesOf.delete(id)
    }
  }

  get size(): number {
    return this.entries.size
  }

  private store(hash: string, ctx: DevicePollContext): void {
    while (this.entries.size >= this.opts.maxEntries) {
      const [oldest, e] = this.entries.entries().next().value as [string, Entry]
      this.drop(oldest, e.ctx.id)
    }
    this.entries.set(hash, { ctx, at: this.now() })
    let set = this.hashesOf.get(ctx.id)
    if (!set) this.hashesOf.set(ctx.id, (set = new Set()))
    set.add(hash)
  }

  private drop(hash: string, deviceId: string): void {
    this.entries.delete(hash)
    const set = this.hashesOf.get(deviceId)
    set?.delete(hash)
    if (set?.size === 0) this.hashesOf.delete(deviceId)
  }
}

/**
 * Per-replica cache of what a poll reads (the device by its certificate serial, or by its
 * bearer credential's hash; what it runs, its stored assignment), so that a poll that changes nothing reads no database.
 * Correctness rests on invalidation, not on expiry: every write to a device, its
 * installed set or its assignment drops its entry here at once and on every other
 * replica through the change bus (device-changes.ts). The expiry only bounds a lost
 * notice; the Redis bus also clears everything when it reconnects (notices may be lost).
 * Misses are never cached: an unknown or revoked credential always reaches the database.
 */
import type { DeviceCertificate, DevicePollContext } from '../fleet-model.js'
import type { DeviceCertificateRepository, DeviceRepository } from '../ports/fleet-repositories.js'

export interface DeviceCacheOptions {
  /** longest an entry is served without a change notice, milliseconds (0: no cache) */
  ttlMs: number
  /** entries kept per replica; the oldest go first */
  maxEntries: number
}

type CertifiedDevice = { certificate: DeviceCertificate; device: DevicePollContext }

interface Entry<V> {
  value: V
  at: number
}

/** One lookup (by credential hash, or by certificate serial) kept per device, dropped with it. */
class KeyedDeviceCache<V> {
  private readonly entries = new Map<string, Entry<V>>()
  private readonly keysOf = new Map<string, Set<string>>()
  /** bumped by every invalidation; a read keeps what it read only if its device was not invalidated since it started */
  private generation = 0
  private allForgottenAt = 0
  private readonly forgottenAt = new Map<string, number>()
  private reading = 0

  constructor(
    private readonly load: (key: string) => Promise<V | undefined>,
    private readonly ctxOf: (v: V) => DevicePollContext,
    private readonly withSeen: (v: V, lastSeenAt: string) => V,
    private readonly opts: DeviceCacheOptions,
    private readonly now: () => number,
  ) {}

  async get(key: string): Promise<V | undefined> {
    const hit = this.entries.get(key)
    if (hit && this.now() - hit.at < this.opts.ttlMs) return hit.value
    if (hit) this.drop(key, this.ctxOf(hit.value).id)
    const started = this.generation
    this.reading++
    let value: V | undefined
    try {
      value = await this.load(key)
      // a change committed while we read may have been announced already: do not keep what we read
      const stale = this.allForgottenAt > started || (value !== undefined && (this.forgottenAt.get(this.ctxOf(value).id) ?? 0) > started)
      if (value !== undefined && !stale && this.opts.ttlMs > 0 && this.opts.maxEntries > 0) this.store(key, value)
    } finally {
      // the marks only matter to reads in flight
      if (--this.reading === 0) this.forgottenAt.clear()
    }
    return value
  }

  seen(deviceId: string, at: string, exact: boolean): void {
    for (const key of this.keysOf.get(deviceId) ?? []) {
      const e = this.entries.get(key)
      const seenAt = e && this.ctxOf(e.value).lastSeenAt
      if (e && (exact || seenAt === null || seenAt === undefined || seenAt < at)) e.value = this.withSeen(e.value, at)
    }
  }

  forget(deviceIds: readonly string[] | '*'): void {
    const generation = ++this.generation
    if (deviceIds === '*') {
      this.allForgottenAt = generation
      this.entries.clear()
      this.keysOf.clear()
      return
    }
    for (const id of deviceIds) {
      if (this.reading > 0) this.forgottenAt.set(id, generation)
      for (const key of this.keysOf.get(id) ?? []) this.entries.delete(key)
      this.keysOf.delete(id)
    }
  }

  get size(): number {
    return this.entries.size
  }

  private store(key: string, value: V): void {
    while (this.entries.size >= this.opts.maxEntries) {
      const [oldest, e] = this.entries.entries().next().value as [string, Entry<V>]
      this.drop(oldest, this.ctxOf(e.value).id)
    }
    this.entries.set(key, { value, at: this.now() })
    const id = this.ctxOf(value).id
    let set = this.keysOf.get(id)
    if (!set) this.keysOf.set(id, (set = new Set()))
    set.add(key)
  }

  private drop(key: string, deviceId: string): void {
    this.entries.delete(key)
    const set = this.keysOf.get(deviceId)
    set?.delete(key)
    if (set?.size === 0) this.keysOf.delete(deviceId)
  }
}

/**
 * The poll path's cache: devices by bearer credential hash, and certificates with their
 * device by serial (what every signed or mTLS device request reads). A certificate's
 * issue, revocation or activation is a write to its device, so it drops these entries
 * like any other device change.
 */
export class DevicePollCache implements Pick<DeviceRepository, 'findByCredentialHash'>, Pick<DeviceCertificateRepository, 'findWithDevice'> {
  private readonly byHash: KeyedDeviceCache<DevicePollContext>
  private readonly bySerial: KeyedDeviceCache<CertifiedDevice>

  constructor(
    source: Pick<DeviceRepository, 'findByCredentialHash'> & Partial<Pick<DeviceCertificateRepository, 'findWithDevice'>>,
    opts: DeviceCacheOptions,
    now: () => number = Date.now,
  ) {
    this.byHash = new KeyedDeviceCache((h) => source.findByCredentialHash(h), (c) => c, (c, at) => ({ ...c, lastSeenAt: at }), opts, now)
    this.bySerial = new KeyedDeviceCache(
      (s) => (source.findWithDevice ? source.findWithDevice(s) : Promise.resolve(undefined)),
      (v) => v.device,
      (v, at) => ({ ...v, device: { ...v.device, lastSeenAt: at } }),
      opts,
      now,
    )
  }

  findByCredentialHash(hash: string): Promise<DevicePollContext | undefined> {
    return this.byHash.get(hash)
  }

  findWithDevice(serial: string): Promise<CertifiedDevice | undefined> {
    return this.bySerial.get(serial)
  }

  /** This process moved the device's last-seen to `at` (exact) or found it at least `at`: keep the copy in step, so the next poll does not write again. */
  seen(deviceId: string, at: string, exact: boolean): void {
    this.byHash.seen(deviceId, at, exact)
    this.bySerial.seen(deviceId, at, exact)
  }

  /** Drops the entries of these devices, or of every device ('*'). */
  forget(deviceIds: readonly string[] | '*'): void {
    this.byHash.forget(deviceIds)
    this.bySerial.forget(deviceIds)
  }

  get size(): number {
    return this.byHash.size + this.bySerial.size
  }
}

/**
 * Device changes reach every replica's poll cache (device-cache.ts) at once. The fleet
 * repositories are wrapped so that every write to what a poll reads (the device row,
 * its installed set, its labels, its credential, its assignment) names the device:
 * outside a transaction right after the write, inside one after it commits (announcing
 * before the commit would let another replica re-read and keep the old rows). The
 * names go on the change bus; every process drops those devices' entries. A write
 * path cannot forget to announce: the wrapper sits under every service.
 */
import { RESYNC, type ChangeBus } from '../ports/infrastructure.js'
import type { DevicePollCache } from './device-cache.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'

export const DEVICE_CHANGES = 'device-changes'
/** Above this many devices one notice says "everything" rather than listing them. */
const MAX_LISTED = 500

export interface DeviceChangeListener {
  /** committed writes to these devices */
  changed(deviceIds: string[]): void
  /** this process moved a device's last-seen to `at` (exact), or found it at or after `at` (not exact); not announced: the poll tolerates an older value */
  seen(deviceId: string, at: string, exact: boolean): void
}

type Args = unknown[]
type Writes<T> = Partial<Record<keyof T & string, (args: Args) => string>>

/** Calls `touched(id)` once each listed write method settles; other members pass through. */
function watch<T extends object>(repo: T, writes: Writes<T>, touched: (id: string) => void): T {
  return new Proxy(repo, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown
      if (typeof value !== 'function') return value
      const fn = value as (...a: Args) => unknown
      const idOf = typeof prop === 'string' ? writes[prop as keyof T & string] : undefined
      if (!idOf) return fn.bind(target)
      return async (...args: Args) => {
        try {
          return await fn.apply(target, args)
        } finally {
          touched(idOf(args))
        }
      }
    },
  })
}

const first = (args: Args) => args[0] as string

function wrap(fleet: FleetRepositories, touched: (id: string) => void, listener: DeviceChangeListener | undefined): FleetRepositories {
  return {
    enrollmentTokens: fleet.enrollmentTokens,
    devices: watch(
      fleet.devices,
      {
        update: (a) => (a[0] as { id: string }).id,
        replaceInstalled: first,
        setInstalled: first,
        advance: first,
        setQuarantine: first,
        setCredentialHash: first,
        decommission: first,
      },
      touched,
    ),
    inventory: new Proxy(watch(fleet.inventory, { setLabels: first }, touched), {
      get(target, prop) {
        if (prop !== 'touch' || !listener) return Reflect.get(target, prop, target) as unknown
        return async (deviceId: string, at: string, notBefore: string) => {
          const wrote = await fleet.inventory.touch(deviceId, at, notBefore)
          // written: the row holds `at`; not written: it holds something at or after notBefore
          listener.seen(deviceId, wrote ? at : notBefore, wrote)
          return wrote
        }
      },
    }),
    groups: fleet.groups,
    reservations: fleet.reservations,
    rollouts: fleet.rollouts,
    members: fleet.members,
    assignments: watch(fleet.assignments, { replace: (a) => (a[0] as { deviceId: string }).deviceId, remove: first, withdraw: first }, touched),
    reports: fleet.reports,
    audit: fleet.audit,
    downloads: fleet.downloads,
    // a changed inventory rewrites the device row's facts, which rollout selectors read
    inventoryReports: watch(fleet.inventoryReports, { save: first }, touched),
    integrity: fleet.integrity,
    releasePolicies: fleet.releasePolicies,
    // a certificate issued, revoked or activated changes who the device is (activate
    // always runs with a revokeForDevice of the same device, which names it)
    certificates: watch(fleet.certificates, { insert: (a) => (a[0] as { deviceId: string }).deviceId, revokeForDevice: first }, touched),
    deviceCa: fleet.deviceCa,
    // a nested transaction joins the outer one: announced when the outer one commits
    transaction: (fn) => fleet.transaction((tx) => fn(wrap(tx, touched, undefined))),
  }
}

/** `fleet` with every device write announced to `listener` once committed. */
export function announcingDeviceChanges(fleet: FleetRepositories, listener: DeviceChangeListener): FleetRepositories {
  const top = wrap(fleet, (id) => listener.changed([id]), listener)
  return {
    ...top,
    transaction: async (fn) => {
      const ids = new Set<string>()
      try {
        return await fleet.transaction((tx) => fn(wrap(tx, (id) => ids.add(id), undefined)))
      } finally {
        if (ids.size) listener.changed([...ids])
      }
    },
  }
}

/**
 * The listener of one process: drops its own entries at once (before the bus delivers)
 * and tells the other processes. A lost notice costs the cache expiry.
 */
export function deviceChangeListener(bus: ChangeBus, cache: DevicePollCache): DeviceChangeListener {
  return {
    changed(ids) {
      cache.forget(ids)
      bus.publish(DEVICE_CHANGES, ids.length > MAX_LISTED ? RESYNC : ids.join(',')).catch(() => undefined)
    },
    seen: (id, at, exact) => cache.seen(id, at, exact),
  }
}

/** Subscribe `cache` to device changes committed anywhere (RESYNC: anything may have changed). */
export function followDeviceChanges(bus: ChangeBus, cache: DevicePollCache): Promise<() => Promise<void>> {
  return bus.subscribe(DEVICE_CHANGES, (message) => cache.forget(message === RESYNC ? '*' : message.split(',')))
}

/**
 * Device inventory (issue 12 §3): the device reports at boot and when its digest
 * changes; the server keeps the latest report, a history row per change, and the
 * package list (asked for with `wantPackages` only when it lacks the list of the
 * reported digest). Nothing is audited per report: inventory is the device's word
 * about itself, not an operator action.
 */
import { invalid } from '../errors.js'
import { versionPasses, parseDebVersion, type VersionTest } from './deb-version.js'
import { factsOf, inventoryDigest, packagesDigest, type InventoryReport, type StoredInventory } from './inventory.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'

export interface InventoryOutcome {
  /** the facts differ from the last report (a history row was added) */
  changed: boolean
  /** send the package list with the next report: the server lacks the list of this digest */
  wantPackages: boolean
}

/** A package search resolves to device ids; past this many it is refused rather than run as one huge IN list. */
export const MAX_PACKAGE_MATCHES = 20_000

export class InventoryService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async report(deviceId: string, r: InventoryReport): Promise<InventoryOutcome> {
    const list = r.packages?.list
    if (list && packagesDigest(list) !== r.packages!.digest)
      throw invalid('INVENTORY_PACKAGES_MISMATCH', 'the package list does not hash to packages.digest (sorted, deduplicated "name\\tversion\\n" lines)')
    const at = this.now().toISOString()
    const digest = inventoryDigest(r)
    const { packages, ...rest } = r
    return this.fleet.transaction(async (tx) => {
      const prev = await tx.inventoryReports.find(deviceId)
      const changed = prev?.digest !== digest
      let listDigest = prev?.packagesListDigest ?? null
      const stored: StoredInventory = {
        digest,
        facts: factsOf(r),
        report: { ...rest, ...(packages ? { packages: { digest: packages.digest, count: packages.count } } : {}) },
        packagesListDigest: listDigest,
        reportedAt: at,
        changedAt: changed || !prev ? at : prev.changedAt,
      }
      await tx.inventoryReports.save(deviceId, stored, changed)
      if (list && packages && listDigest !== packages.digest) {
        await tx.inventoryReports.replacePackages(deviceId, packages.digest, list)
        listDigest = packages.digest
      }
      return { changed, wantPackages: packages !== undefined && listDigest !== packages.digest }
    })
  }

  /** Ids of devices whose package `name` passes the version test (any version without one). */
  async devicesWithPackage(name: string, test: VersionTest | undefined): Promise<string[]> {
    if (test && !parseDebVersion(test.version)) throw invalid('INVENTORY_VERSION_INVALID', `${test.version} is not a Debian version ([epoch:]upstream[-revision])`)
    const holders = await this.fleet.inventoryReports.packageHolders(name)
    const ids = new Set(holders.filter((h) => !test || versionPasses(h.version, test)).map((h) => h.deviceId))
    if (ids.size > MAX_PACKAGE_MATCHES)
      throw invalid('INVENTORY_QUERY_TOO_BROAD', `${ids.size} devices match; narrow the package search (at most ${MAX_PACKAGE_MATCHES})`)
    return [...ids].sort()
  }

  async view(deviceId: string, historyLimit = 10) {
    const [latest, history] = await Promise.all([this.fleet.inventoryReports.find(deviceId), this.fleet.inventoryReports.history(deviceId, historyLimit)])
    if (!latest) return null
    return { ...latest.report, digest: latest.digest, packagesListStored: latest.packagesListDigest !== null && latest.packagesListDigest === latest.report.packages?.digest, reportedAt: latest.reportedAt, changedAt: latest.changedAt, history: history.map((h) => ({ digest: h.digest, changedAt: h.changedAt })) }
  }
}

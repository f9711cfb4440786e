/** The fleet repositories over one Kysely handle (the pool, or a transaction). */
import type { Kysely } from 'kysely'
import type { FleetRepositories } from '../../../domain/ports/fleet-repositories.js'
import { isUniqueViolation } from '../db-errors.js'
import type { Database } from '../schema.js'
import { KyselyAssignments } from './assignments.js'
import { KyselyAudit } from './audit.js'
import { KyselyDeviceGroups, KyselyReservations } from './device-groups.js'
import { KyselyCertificates, KyselyDeviceCa } from './certificates.js'
import { KyselyDevices } from './devices.js'
import { KyselyDownloads } from './downloads.js'
import { KyselyInventory } from './inventory.js'
import { KyselyInventoryReports } from './inventory-reports.js'
import { KyselyIntegrity } from './integrity.js'
import { KyselyEnrollmentTokens } from './enrollment-tokens.js'
import { KyselyMembers } from './members.js'
import { KyselyReports } from './reports.js'
import { KyselyRollouts } from './rollouts.js'
import { KyselyReleasePolicies } from '../release-policy-repository.js'

export function fleetRepositories(db: Kysely<Database>, inTransaction = false): FleetRepositories {
  return {
    enrollmentTokens: new KyselyEnrollmentTokens(db),
    devices: new KyselyDevices(db),
    inventory: new KyselyInventory(db),
    inventoryReports: new KyselyInventoryReports(db),
    integrity: new KyselyIntegrity(db),
    groups: new KyselyDeviceGroups(db),
    reservations: new KyselyReservations(db),
    rollouts: new KyselyRollouts(db),
    members: new KyselyMembers(db),
    assignments: new KyselyAssignments(db),
    reports: new KyselyReports(db),
    audit: new KyselyAudit(db),
    downloads: new KyselyDownloads(db),
    releasePolicies: new KyselyReleasePolicies(db),
    certificates: new KyselyCertificates(db),
    deviceCa: new KyselyDeviceCa(db),
    transaction: (fn) => (inTransaction ? fn(fleetRepositories(db, true)) : withAuditRetry(() => db.transaction().execute((trx) => fn(fleetRepositories(trx, true))))),
  }
}

/** Two writers appended the same audit seq: the loser's whole transaction runs again on the new head. */
async function withAuditRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (e) {
      const err = e as { table?: string; message?: string }
      const onAudit = err.table === 'audit_log' || /audit_log/.test(err.message ?? '')
      if (!isUniqueViolation(e) || !onAudit || attempt >= 10) throw e
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt))
    }
  }
}

/**
 * What the first mutation run of rollout-service.ts (issue 18) found unchecked by
 * rollout-service-edges.test.ts: a saved group's tags added to selector tags it does not
 * hold, and devices past the last phase's percent (a rollout whose phases stop below
 * 100 %), which no phase reaches.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openRepositories } from '../../server/adapters/db/index.js'
import type { Phase } from '../../server/domain/fleet-model.js'
import { FleetCaches } from '../../server/domain/rollouts/caches.js'
import { cohortPosition, phaseOf } from '../../server/domain/rollouts/cohort.js'
import { RolloutService } from '../../server/domain/rollouts/rollout-service.js'

const dir = mkdtempSync(join(tmpdir(), 'slipway-rollout-surv-'))
const repos = await openRepositories({ sqlitePath: join(dir, 'slipway.db') })
t.teardown(async () => {
  await repos.close()
  rmSync(dir, { recursive: true, force: true })
})
const now = '2026-06-01T00:00:00.000Z'
const svc = new RolloutService(repos.fleet, repos.releases, new FleetCaches(repos.releases, repos.fleet.rollouts), () => undefined, () => new Date(now))
const release = { id: randomUUID(), name: 'rs-surv', version: '1.0.0', kind: 'os-image' as const, hardware: ['hw-surv'], sha256: 'e'.repeat(64), length: 1, securityVersion: 1, provenance: {}, metadata: null, createdBy: 'test', createdAt: now }
await repos.releases.insert(release)
const devices: string[] = []
await repos.fleet.transaction(async (tx) => {
  for (let i = 0; i < 40; i++) {
    const id = randomUUID()
    devices.push(id)
    await tx.devices.insert({ id, hardwareId: `hw-${id}`, hardware: 'hw-surv', group: 'g', tags: ['x'], credentialHash: `h-${id}`, lastSeq: -1, lastState: null, lastReportAt: null, lastSeenAt: null, createdAt: now, updatedAt: now })
  }
})

t.test("a saved group's tags are added to tags of the selector's own", async (t) => {
  await repos.fleet.groups.upsert({ name: 'sg-surv', selector: { group: 'g', tags: ['x'] }, description: null, createdBy: 'test', createdAt: now, updatedAt: now })
  const dry = await svc.dryRun({ release: release.id, phases: [{ percent: 100, minDevices: 0, soakSeconds: 0 }], selector: { savedGroup: 'sg-surv', tags: ['z'] } }, 'token:op')
  t.same(dry.selector, { group: 'g', tags: ['x', 'z'], savedGroup: 'sg-surv' }, "the group's x and the selector's z")
  t.equal(dry.matching, 0, 'no device carries z')
})

t.test('devices past the last phase are reached by none', async (t) => {
  const phases: Phase[] = [
    { percent: 20, minDevices: 0, soakSeconds: 0 },
    { percent: 50, minDevices: 0, soakSeconds: 0 },
  ]
  const dry = await svc.dryRun({ release: release.id, phases }, 'token:op')
  const first = devices.filter((d) => phaseOf(cohortPosition(dry.rolloutId, d), phases) === 0).length
  const reached = devices.filter((d) => phaseOf(cohortPosition(dry.rolloutId, d), phases) >= 0).length
  t.equal(dry.matching, 40)
  t.ok(reached < 40, `some devices are past 50 % (${40 - reached})`)
  t.same(dry.phases.map((p) => p.devices), [first, reached])
})

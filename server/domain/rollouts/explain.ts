/** explain(device): why a device is or is not offered an update right now, in words. */
import { notFound } from '../errors.js'
import type { AssignmentService } from './assignment-service.js'
import type { FleetCaches } from './caches.js'
import { cohortPosition, phaseOf } from './cohort.js'
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { notOlder, selectorMisses } from '../devices/selector.js'

export interface Explanation {
  deviceId: string
  offered: { rolloutId: string; release: string; action: 'install' | 'rollback' } | null
  summary: string
  reasons: string[]
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export async function explainDevice(deviceId: string, fleet: FleetRepositories, caches: FleetCaches, assignments: AssignmentService): Promise<Explanation> {
  const device = await fleet.devices.findById(deviceId)
  if (!device) throw notFound('DEVICE_NOT_FOUND', `no device ${deviceId}`)
  // a device out of the fleet is offered nothing, whatever the rollouts say
  if (device.decommissionedAt || device.quarantinedAt) {
    const why = device.decommissionedAt
      ? `device was decommissioned at ${device.decommissionedAt}: its identity is deleted`
      : `device is quarantined since ${device.quarantinedAt} (${device.quarantineReason ?? 'no reason given'}): every device request is refused`
    return { deviceId, offered: null, summary: 'not offered an update: out of the fleet', reasons: [why] }
  }
  const current = await fleet.assignments.find(deviceId)
  const reasons: string[] = []
  const runs = device.installed.map((i) => `${i.name}@${i.version} (securityVersion ${i.securityVersion})`).join(', ') || 'nothing known'
  reasons.push(`device ${device.hardwareId} (${device.hardware}, group ${device.group}${device.tags.length ? `, tags ${device.tags.join(', ')}` : ''}) runs ${runs}`)
  if (current) reasons.push(`its last assignment is #${current.counter}: ${current.action} in rollout ${current.rolloutId}`)
  const installed = new Map(device.installed.map((i) => [i.name, i]))
  const live = await caches.live()
  if (!live.length) reasons.push('no rollout is running, paused or recently completed')
  for (const r of live) {
    const rel = await caches.release(r.releaseId)
    if (!rel) continue
    const label = `rollout ${r.id} (${rel.name}@${rel.version}, ${r.state}, phase ${r.phase + 1}/${r.phases.length} at ${r.phases[r.phase]!.percent}%)`
    const miss = selectorMisses(r.selector, rel, device)
    if (miss) {
      reasons.push(`${label}: not for this device: ${miss}`)
      continue
    }
    const older = notOlder(rel, installed.get(rel.name))
    if (older) {
      reasons.push(`${label}: not offered, ${older}`)
      continue
    }
    const pos = cohortPosition(r.id, device.id)
    const k = phaseOf(pos, r.phases)
    if (k < 0) reasons.push(`${label}: cohort position ${pos.toFixed(4)} is beyond the last phase (${r.phases.at(-1)!.percent}%), it is never reached`)
    else if (k > r.phase) reasons.push(`${label}: cohort position ${pos.toFixed(4)} is beyond ${pct(r.phases[r.phase]!.percent / 100)}; it joins in phase ${k + 1} (${r.phases[k]!.percent}%)`)
    else if (r.state === 'paused') reasons.push(`${label}: in cohort (position ${pos.toFixed(4)}), but the rollout is paused${r.stateReason ? `: ${r.stateReason}` : ''}`)
    else reasons.push(`${label}: in cohort (position ${pos.toFixed(4)} < ${pct(r.phases[r.phase]!.percent / 100)})`)
  }
  const d = await assignments.decide(device, current)
  const offered = d ? { rolloutId: d.rollout.id, release: `${d.release.name}@${d.release.version}`, action: d.action } : null
  const summary = d
    ? `offered ${d.action === 'rollback' ? 'a rollback to' : ''} ${d.release.name}@${d.release.version} by rollout ${d.rollout.id}`.replace('  ', ' ')
    : 'not offered an update right now'
  return { deviceId, offered, summary, reasons }
}

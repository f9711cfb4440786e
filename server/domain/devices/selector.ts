/** Does a device match a rollout's selector and its release's hardware list? */
import type { Release } from '../model.js'
import { inventoryMisses } from './inventory.js'
import { compareSemver, parseSemver } from '../releases/semver.js'
import type { Device, InstalledRelease, Selector } from '../fleet-model.js'

/** Does a device match a selector's inventory fields (no release involved)? */
export function selectorMatches(sel: Selector, d: Pick<Device, 'hardware' | 'group' | 'tags' | 'inventory'>): boolean {
  if (sel.hardware !== undefined && sel.hardware !== d.hardware) return false
  if (sel.group !== undefined && sel.group !== d.group) return false
  if (inventoryMisses(sel.inventory, d.inventory) !== undefined) return false
  return (sel.tags ?? []).every((t) => d.tags.includes(t))
}

export function selectorMisses(sel: Selector, release: Pick<Release, 'hardware'>, d: Pick<Device, 'hardware' | 'group' | 'tags' | 'inventory'>): string | undefined {
  if (!release.hardware.includes(d.hardware)) return `the release is built for ${release.hardware.join(', ')}, the device is ${d.hardware}`
  if (sel.hardware !== undefined && sel.hardware !== d.hardware) return `the rollout selects hardware ${sel.hardware}, the device is ${d.hardware}`
  if (sel.group !== undefined && sel.group !== d.group) return `the rollout selects group ${sel.group}, the device is in ${d.group}`
  const missing = (sel.tags ?? []).filter((t) => !d.tags.includes(t))
  if (missing.length) return `the device lacks tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`
  return inventoryMisses(sel.inventory, d.inventory)
}

/**
 * Why installing `rel` over `inst` would not be an update (undefined: it would be):
 * the same image, a lower securityVersion (anti-rollback), or an older version.
 */
export function notOlder(rel: Pick<Release, 'version' | 'sha256' | 'securityVersion'>, inst: InstalledRelease | undefined): string | undefined {
  if (!inst) return undefined
  if (inst.sha256 === rel.sha256) return 'the device already runs this release'
  if (inst.securityVersion > rel.securityVersion) return `securityVersion ${rel.securityVersion} is below the installed ${inst.securityVersion}`
  const installed = parseSemver(inst.version)
  const offered = parseSemver(rel.version)
  if (installed && offered && compareSemver(offered, installed) <= 0) return `version ${rel.version} is not newer than the installed ${inst.version}`
  return undefined
}

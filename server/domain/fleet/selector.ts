/** Does a device match a rollout's selector and its release's hardware list? */
import type { Release } from '../model.js'
import type { Device, Selector } from './model.js'

export function selectorMisses(sel: Selector, release: Pick<Release, 'hardware'>, d: Pick<Device, 'hardware' | 'group' | 'tags'>): string | undefined {
  if (!release.hardware.includes(d.hardware)) return `the release is built for ${release.hardware.join(', ')}, the device is ${d.hardware}`
  if (sel.hardware !== undefined && sel.hardware !== d.hardware) return `the rollout selects hardware ${sel.hardware}, the device is ${d.hardware}`
  if (sel.group !== undefined && sel.group !== d.group) return `the rollout selects group ${sel.group}, the device is in ${d.group}`
  const missing = (sel.tags ?? []).filter((t) => !d.tags.includes(t))
  if (missing.length) return `the device lacks tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`
  return undefined
}

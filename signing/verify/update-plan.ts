/**
 * Cross-document checks once each document is verified on its own: the
 * assignment names this release, the release fits this hardware and does not
 * lower the security version (anti-rollback), and a delta leads from the
 * installed image to exactly the CI-signed target.
 */
import { TrustError } from '../errors.js'
import { checkCounterOption } from './options.js'
import type { Assignment } from '../metadata/assignment.js'
import type { Delta } from '../metadata/delta.js'
import type { Release } from '../metadata/release.js'

export interface DeviceState {
  /** hardware model of this device, e.g. `rpi4` */
  hardware: string
  /** securityVersion of what is installed now (0 on a fresh device) */
  securityVersion: number
  /** sha256 of the installed image, needed only to use a delta */
  installedSha256?: string
}

/**
 * Anti-rollback: `securityVersion` never decreases. Equal is allowed, so a rollout
 * can roll back to the previous release when it carries the same value.
 */
export function checkSecurityVersion(installed: number, offered: number): void {
  checkCounterOption('securityVersion', installed)
  if (offered < installed)
    throw new TrustError('SECURITY_VERSION_DOWNGRADE', `securityVersion ${offered} is below installed ${installed}`, { installed, offered })
}

function sameDelta(a: Delta, b: Delta): boolean {
  return a.sourceSha256 === b.sourceSha256 && a.targetSha256 === b.targetSha256 && a.patchSha256 === b.patchSha256 && a.patchLength === b.patchLength && a.format === b.format
}

/** Throws unless installing `release` (through `delta`, if given) as `assignment` says is allowed. */
export function checkUpdate(p: { assignment: Assignment; release: Release; delta?: Delta }, device: DeviceState): void {
  const { assignment: a, release: r } = p
  if (a.release.name !== r.name || a.release.version !== r.version || a.release.sha256 !== r.sha256)
    throw new TrustError('ASSIGNMENT_RELEASE_MISMATCH', `assignment names ${a.release.name}@${a.release.version}, release is ${r.name}@${r.version}`)
  if (!r.hardware.includes(device.hardware))
    throw new TrustError('HARDWARE_INCOMPATIBLE', `release ${r.name}@${r.version} is not for ${device.hardware}`, { hardware: r.hardware })
  checkSecurityVersion(device.securityVersion, r.securityVersion)
  const d = p.delta
  if (d) {
    if (a.delta && !sameDelta(a.delta, d)) throw new TrustError('DELTA_MISMATCH', 'delta differs from the one the assignment names')
    if (d.targetSha256 !== r.sha256) throw new TrustError('DELTA_MISMATCH', 'delta does not produce the release target')
    if (d.sourceSha256 !== device.installedSha256) throw new TrustError('DELTA_MISMATCH', 'delta does not apply to the installed image')
  }
}

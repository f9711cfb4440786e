/**
 * Verify an offer BEFORE downloading anything (DEVICE-API.md, Uptane director
 * checks): the assignment is signed by `online`, bound to this device, not
 * expired, and not older than the last one accepted; the release is signed by
 * CI, names the same artifact, fits this hardware and does not lower the
 * security version; a delta leads from exactly what is installed to exactly
 * the CI-signed target.
 */
import {
  checkUpdate,
  TrustError,
  verifyAssignment,
  verifyDelta,
  verifyRelease,
  type Assignment,
  type Delta,
  type Release,
  type TrustedRoot,
} from '../../../signing/verify/index.js'
import { AgentError } from '../errors.js'
import type { Offer } from '../net/device-api.js'

export interface DeviceFacts {
  deviceId: string
  hardware: string
  lastCounter?: number
  /** what is installed under the release's name: OS image, or the live model of that name */
  installed: (kind: Release['kind'], name: string) => { sha256?: string; securityVersion: number }
}

export interface CheckedOffer {
  assignment: Assignment
  release: Release
  /** present when a delta is offered and checks out against what is installed */
  delta?: Delta
  /** the assignment this device already accepted (same counter): not a replay, nothing new */
  known: boolean
  /** why an offered delta is not used (the full image is installed instead) */
  deltaRefused?: string
}

export function checkOffer(trust: TrustedRoot, offer: Offer, d: DeviceFacts): CheckedOffer {
  const { assignment } = verifyAssignment(trust, offer.assignment, { deviceId: d.deviceId })
  if (d.lastCounter !== undefined && assignment.counter < d.lastCounter)
    throw new TrustError('ASSIGNMENT_REPLAY', `assignment counter ${assignment.counter} is below ${d.lastCounter}`, { counter: assignment.counter, lastCounter: d.lastCounter })
  const known = d.lastCounter !== undefined && assignment.counter === d.lastCounter
  const { release } = verifyRelease(trust, offer.release)
  const delta = offer.delta ? verifyDelta(trust, offer.delta).delta : undefined
  if (delta && (!offer.patch || offer.patch.length !== delta.patchLength))
    throw new AgentError('SERVER_RESPONSE_INVALID', 'a delta is offered without a patch link of its signed length')
  if (offer.artifact.length !== release.length)
    throw new AgentError('SERVER_RESPONSE_INVALID', `artifact length ${offer.artifact.length} is not the signed ${release.length}`)
  const installed = d.installed(release.kind, release.name)
  const facts = { hardware: d.hardware, securityVersion: installed.securityVersion, ...(installed.sha256 ? { installedSha256: installed.sha256 } : {}) }
  checkUpdate({ assignment, release }, facts)
  if (!delta) return { assignment, release, known }
  try {
    checkUpdate({ assignment, release, delta }, facts)
  } catch (e) {
    // a delta that does not lead from what is installed to the signed target is useless, not fatal:
    // the full image is still CI-signed, so install that instead
    if (e instanceof TrustError && e.code === 'DELTA_MISMATCH') return { assignment, release, known, deltaRefused: e.message }
    throw e
  }
  return { assignment, release, delta, known }
}

/**
 * Verify the documents a device receives, each against its role in the trusted
 * root (TUF 1.0 §5.4 order: size → signatures → type/shape → expiry), plus the
 * Uptane director checks on assignments (device binding, replay counter).
 */
import { decodeEnvelope } from '../envelope.js'
import { TrustError } from '../errors.js'
import { parseAssignment, type Assignment, type AssignmentSigned } from '../metadata/assignment.js'
import { parseDelta, type Delta, type DeltaSigned } from '../metadata/delta.js'
import { parseRelease, type Release, type ReleaseSigned } from '../metadata/release.js'
import type { RoleName } from '../metadata/root.js'
import { checkExpiry } from './expiry.js'
import { checkCounterOption } from './options.js'
import type { TrustedRoot } from './trusted-root.js'

export interface Verified<S> {
  signed: S
  /** keyids whose signatures counted */
  keyIds: string[]
}

function verifyDoc<S extends { _type: string; expires: string }>(trust: TrustedRoot, bytes: Uint8Array, role: RoleName, parse: (v: unknown) => { signed: S }): Verified<S> {
  const env = decodeEnvelope(bytes, trust.options.maxBytes)
  // Signatures before content: never act on fields of unauthenticated data.
  const keyIds = trust.checkSignatures(env, role)
  const { signed } = parse(env.signed)
  checkExpiry(signed, trust.options.now(), trust.options.expiryGraceSeconds)
  return { signed, keyIds }
}

/** CI-signed release metadata (role `release`). */
export function verifyRelease(trust: TrustedRoot, bytes: Uint8Array): Verified<ReleaseSigned> & { release: Release } {
  let release: Release | undefined
  const v = verifyDoc(trust, bytes, 'release', (x) => { const p = parseRelease(x); release = p.release; return p })
  return { ...v, release: release as Release }
}

/** Server-signed delta metadata (role `online`). */
export function verifyDelta(trust: TrustedRoot, bytes: Uint8Array): Verified<DeltaSigned> & { delta: Delta } {
  let delta: Delta | undefined
  const v = verifyDoc(trust, bytes, 'online', (x) => { const p = parseDelta(x); delta = p.delta; return p })
  return { ...v, delta: delta as Delta }
}

export interface AssignmentCheck {
  /** this device's id */
  deviceId: string
  /** counter of the last assignment this device accepted; absent on first contact */
  lastCounter?: number
}

/** Server-signed device assignment (role `online`), bound to this device and fresher than the last. */
export function verifyAssignment(trust: TrustedRoot, bytes: Uint8Array, check: AssignmentCheck): Verified<AssignmentSigned> & { assignment: Assignment } {
  let assignment: Assignment | undefined
  const v = verifyDoc(trust, bytes, 'online', (x) => { const p = parseAssignment(x); assignment = p.assignment; return p })
  const a = assignment as Assignment
  if (check.lastCounter !== undefined) checkCounterOption('lastCounter', check.lastCounter)
  if (a.deviceId !== check.deviceId)
    throw new TrustError('ASSIGNMENT_WRONG_DEVICE', `assignment is for device ${a.deviceId}`, { deviceId: a.deviceId, expected: check.deviceId })
  if (check.lastCounter !== undefined && a.counter <= check.lastCounter)
    throw new TrustError('ASSIGNMENT_REPLAY', `assignment counter ${a.counter} is not above ${check.lastCounter}`, { counter: a.counter, lastCounter: check.lastCounter })
  return { ...v, assignment: a }
}

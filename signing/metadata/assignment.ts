/**
 * Device assignment (Uptane "director" metadata, shaped as our own TUF document):
 * which release one device should run, signed by the `online` role.
 *   - `deviceId` binds it to one device (mix-and-match attack);
 *   - `counter` increases per device on every new assignment (replay attack);
 *   - `expires` bounds how long a captured assignment stays usable (freeze attack).
 */
import { checkCommon, commonFields, type SignedCommon } from './common.js'
import { parseDeltaFields, type Delta } from './delta.js'
import { int, obj, sha256Hex, str } from './guard.js'

/** Which release: must equal the CI-signed release metadata it is checked with. */
export interface ReleaseRef {
  name: string
  version: string
  sha256: string
}

export interface Assignment {
  deviceId: string
  release: ReleaseRef
  delta?: Delta
  rolloutId: string
  /** per-device, strictly increasing */
  counter: number
}

export interface AssignmentSigned extends SignedCommon<'assignment'>, Assignment {}

export function buildAssignment(a: Assignment, opts: { expires: string; version?: number }): AssignmentSigned {
  // TUF `version` must be >= 1; the counter is the natural one.
  return parseAssignment({ ...commonFields('assignment', opts.version ?? Math.max(1, a.counter), opts.expires), ...a }).signed
}

export function parseAssignment(v: unknown): { signed: AssignmentSigned; assignment: Assignment } {
  const o = checkCommon(v, 'assignment')
  const r = obj(o.release, 'release')
  const assignment: Assignment = {
    deviceId: str(o.deviceId, 'deviceId', 256),
    release: { name: str(r.name, 'release.name', 128), version: str(r.version, 'release.version', 128), sha256: sha256Hex(r.sha256, 'release.sha256') },
    rolloutId: str(o.rolloutId, 'rolloutId', 256),
    counter: int(o.counter, 'counter', 0),
  }
  if (o.delta !== undefined) assignment.delta = parseDeltaFields(obj(o.delta, 'delta'), 'delta.')
  return { signed: o as unknown as AssignmentSigned, assignment }
}

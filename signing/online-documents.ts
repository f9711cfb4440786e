/**
 * What the server signs with the `online` key (through the Signer port, so an
 * HSM holds it): device assignments and delta metadata, as wire bytes.
 */
import { encodeEnvelope, signEnvelope } from './envelope.js'
import { buildAssignment, type Assignment } from './metadata/assignment.js'
import { expiresIn } from './metadata/common.js'
import { buildDelta, type Delta } from './metadata/delta.js'
import type { Signer } from './signer.js'

/** Default assignment lifetime: 1 day; devices re-fetch on every poll, the grace covers offline ones. */
export const ASSIGNMENT_LIFETIME_SECONDS = 86400
/** Default delta metadata lifetime: 30 days (the CI-signed target hash is what protects the image). */
export const DELTA_LIFETIME_SECONDS = 30 * 86400

export interface OnlineSignOptions {
  /** absolute expiry, `YYYY-MM-DDTHH:MM:SSZ`; default now + the document's lifetime */
  expires?: string
  /** clock for the default expiry */
  now?: Date
}

export async function signAssignment(a: Assignment, signers: readonly Signer[], o: OnlineSignOptions = {}): Promise<Buffer> {
  const signed = buildAssignment(a, { expires: o.expires ?? expiresIn(ASSIGNMENT_LIFETIME_SECONDS, o.now) })
  return encodeEnvelope(await signEnvelope(signed, signers))
}

export async function signDelta(d: Delta, signers: readonly Signer[], o: OnlineSignOptions & { version?: number } = {}): Promise<Buffer> {
  const signed = buildDelta(d, { expires: o.expires ?? expiresIn(DELTA_LIFETIME_SECONDS, o.now), ...(o.version ? { version: o.version } : {}) })
  return encodeEnvelope(await signEnvelope(signed, signers))
}

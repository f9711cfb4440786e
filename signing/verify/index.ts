/**
 * Device-side verification library. Node built-in crypto only: importing this
 * never loads pkcs11js or node-forge.
 */
export { TrustError, isTrustError, type TrustErrorCode } from '../errors.js'
export { canonicalize, canonicalBytes, parseCanonical, isCanonical } from '../canonical-json.js'
export { decodeEnvelope, type Envelope, type SignatureEntry } from '../envelope.js'
export { decodeKey, keyIdOf, type TufKey, type KeyType } from '../keys.js'
export type { RootSigned, RoleName } from '../metadata/root.js'
export type { Release, ReleaseSigned, ArtifactKind, Provenance } from '../metadata/release.js'
export type { Delta, DeltaSigned } from '../metadata/delta.js'
export type { Assignment, AssignmentSigned, ReleaseRef } from '../metadata/assignment.js'
export { TrustedRoot } from './trusted-root.js'
export { verifyRelease, verifyDelta, verifyAssignment, type AssignmentCheck, type Verified } from './documents.js'
export { checkUpdate, checkSecurityVersion, type DeviceState } from './update-plan.js'
export { PayloadVerifier, verifyPayload } from './payload.js'
export { checkExpiry } from './expiry.js'
export type { VerifyOptions } from './options.js'

/**
 * Slipway trust package: TUF-shaped metadata, canonical JSON, signers.
 * The device agent imports `signing/verify/index.js` instead, which never loads
 * pkcs11js or node-forge.
 */
export { TrustError, isTrustError, type TrustErrorCode } from './errors.js'
export { canonicalize, canonicalWire, canonicalBytes, parseCanonical, isCanonical } from './canonical-json.js'
export { keyIdOf, decodeKey, tufKeyFromKeyObject, type TufKey, type KeyType, type KeyScheme, type PublicKey } from './keys.js'
export { signEnvelope, addSignatures, encodeEnvelope, decodeEnvelope, type Envelope, type SignatureEntry } from './envelope.js'
export type { Signer } from './signer.js'
export { signAssignment, signDelta, ASSIGNMENT_LIFETIME_SECONDS, DELTA_LIFETIME_SECONDS, type OnlineSignOptions } from './online-documents.js'
export { FileKeySigner, fileKeyWarning } from './file-signer.js'
export { ecdsaRawToDer } from './ecdsa-der.js'
export { SPEC_VERSION, expiresIn, formatExpires } from './metadata/common.js'
export { buildRoot, parseRoot, ROLE_NAMES, type RootSigned, type RootSpec, type RoleName, type RoleKeys } from './metadata/root.js'
export { buildRelease, parseRelease, targetPath, type Release, type ReleaseSigned, type ArtifactKind, type Provenance } from './metadata/release.js'
export { buildDelta, parseDelta, type Delta, type DeltaSigned } from './metadata/delta.js'
export { buildAssignment, parseAssignment, type Assignment, type AssignmentSigned, type ReleaseRef } from './metadata/assignment.js'
export { Pkcs11Signer, generateTokenKey, describeConfig, type Pkcs11Config, type PinSource } from './pkcs11/index.js'
export { DeviceCa, createCsr, parseCsr, verifyDeviceCertificate, parseRevocationList, type IssuedCertificate, type Revocation, type RevocationList } from './certs/index.js'
export * as verify from './verify/index.js'
export * from './ceremony/index.js'

/**
 * TPM key attestation (issue 10, "TPM"): the wire format shared with the agent,
 * the TPM structures, and the server-side verifier. Node built-ins only.
 */
export { TpmAttestationVerifier, type KeyAttestationVerifier, type TpmAttestationOptions } from './tpm-attestation-verifier.js'
export type { ActivationRequest, ActivationChallenge, TpmKeyAttestation } from './wire.js'
export { makeCredential, kdfa } from './make-credential.js'
export { parseEkCaBundle, verifyEkCertificate } from './ek-certificate.js'
export { parseEccPublic, parseCertifyInfo, nameOf, keyObjectOf, unwrapTpm2bPublic, ATTR, RESIDENT } from './tpm-structures.js'

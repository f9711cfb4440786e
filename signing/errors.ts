/**
 * The one error tree of `signing/`. Every failure of parsing, signing or
 * verification is a `TrustError` with a stable string `code`; the device agent
 * and tests match on `code`, never on the message. Codes are grouped by what
 * went wrong, and each attack the verifier defends against has its own code.
 *
 * This file imports nothing, so the device-side verifier can use it.
 */
export type TrustErrorCode =
  // ---- documents (size, syntax, canonical form, shape)
  | 'DOC_TOO_LARGE' // byte length above the configured cap
  | 'DOC_MALFORMED' // not UTF-8 / not JSON / missing or mistyped field
  | 'DOC_NOT_CANONICAL' // valid JSON, but not the OLPC canonical bytes of itself
  | 'DOC_WRONG_TYPE' // `_type` is not the kind the caller expected
  // ---- keys
  | 'KEY_MALFORMED' // key material does not parse, or keyid is not sha256(canonical key)
  | 'KEY_TYPE_NOT_ALLOWED' // keytype/scheme unsupported, mismatched, or forbidden for this role
  | 'KEY_NOT_CANONICAL' // a key in other than its one encoding (compressed/hybrid point, explicit curve, y >= p): one key, one keyid
  | 'KEY_PRIVATE' // private key material where a public key belongs
  | 'KEY_SMALL_ORDER' // an Ed25519 point of small order (identity and co.): signatures by it prove nothing
  | 'OPTIONS_INVALID' // a verification option that is not a usable value (NaN, negative, not a Date)
  // ---- signatures and thresholds (TUF 1.0 §5.3.4, §5.4)
  | 'SIGNATURE_INVALID' // a signature by an authorised key does not verify (tampered metadata)
  | 'SIGNATURE_UNKNOWN_KEY' // only keys the role does not list signed
  | 'SIGNATURE_REVOKED_KEY' // a key that an earlier root trusted for this role and a later root removed
  | 'SIGNATURE_DUPLICATE' // the same key signed more than once (never counts twice)
  | 'THRESHOLD_NOT_MET' // fewer distinct authorised keys than the threshold
  // ---- root chain (TUF 1.0 §5.3)
  | 'ROOT_NOT_SIGNED_BY_PREVIOUS' // new root lacks the previous root's threshold
  | 'ROOT_NOT_SELF_SIGNED' // new root lacks its own threshold
  | 'ROOT_VERSION_NOT_CONSECUTIVE' // new root version is not trusted version + 1
  | 'ROOT_INCONSISTENT' // roles missing, or TUF alias roles disagree with ours
  // ---- freshness, rollback, binding
  | 'METADATA_EXPIRED' // expired beyond the configured grace (freeze attack)
  | 'ASSIGNMENT_WRONG_DEVICE' // assignment for another device (mix-and-match)
  | 'ASSIGNMENT_REPLAY' // counter not greater than the last accepted one
  | 'ASSIGNMENT_RELEASE_MISMATCH' // assignment points at another release than the one given
  | 'DELTA_MISMATCH' // delta does not lead from the installed image to the release target
  | 'HARDWARE_INCOMPATIBLE' // release does not list this device's hardware
  | 'SECURITY_VERSION_DOWNGRADE' // release securityVersion below the installed one
  // ---- payload bytes
  | 'PAYLOAD_LENGTH_MISMATCH'
  | 'PAYLOAD_HASH_MISMATCH'
  // ---- signers (file keys, PKCS#11)
  | 'SIGNER_KEY_MISMATCH' // signature does not verify with the signer's own public key
  | 'SIGNER_FILE_INVALID' // key file unreadable or not a supported PEM key
  | 'PKCS11_MODULE_NOT_FOUND'
  | 'PKCS11_TOKEN_NOT_FOUND'
  | 'PKCS11_PIN_INCORRECT'
  | 'PKCS11_PIN_MISSING'
  | 'PKCS11_KEY_NOT_FOUND'
  | 'PKCS11_KEY_EXISTS'
  | 'PKCS11_FAILED'
  // ---- device certificates
  | 'CERT_CSR_INVALID' // not a PKCS#10 request, or not for the expected name
  | 'CERT_CSR_KEY_NOT_ALLOWED' // the request's key is neither ECDSA P-256 nor Ed25519
  | 'CERT_CSR_SIGNATURE_INVALID' // not signed by the key it carries (no proof of possession)
  | 'CERT_CHAIN_INVALID'
  | 'CERT_EXPIRED'
  | 'CERT_REVOKED'
  // ---- TPM key attestation (signing/attestation; TCG EK Credential Profile, TPM 2.0 Part 1 §24, §18.4)
  | 'ATTESTATION_MALFORMED' // not the attestation object DEVICE-API.md describes, or a TPM structure that does not parse
  | 'ATTESTATION_CHAIN_INVALID' // the EK certificate does not chain to the operator's EK CA (or is expired)
  | 'ATTESTATION_ACTIVATION_FAILED' // the AK was not shown to live in the EK's TPM: wrong or expired credential-activation answer
  | 'ATTESTATION_SIGNATURE_INVALID' // the certify signature does not verify with the AK, or the TPM did not generate what was signed
  | 'ATTESTATION_KEY_MISMATCH' // the certified key is not the device key
  | 'ATTESTATION_KEY_NOT_RESIDENT' // a key's attributes allow it to exist outside the TPM (not fixedTPM|fixedParent|sensitiveDataOrigin)
  // ---- ceremony (refusing to produce metadata that would not verify)
  | 'CEREMONY_INVALID'

export class TrustError extends Error {
  constructor(
    readonly code: TrustErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'TrustError'
  }
}

export const isTrustError = (e: unknown, code?: TrustErrorCode): e is TrustError =>
  e instanceof TrustError && (code === undefined || e.code === code)

/**
 * The signing port (cf. sigstore-js `Signer`): one key, one operation. Adapters:
 * `FileKeySigner` (development), `Pkcs11Signer` (HSM, YubiHSM, TPM, cloud KMS).
 *
 * `sign` returns the signature in TUF wire encoding, which is also the X.509
 * encoding: 64 raw bytes for Ed25519; a DER `ECDSA-Sig-Value` over SHA-256 of
 * `data` for ECDSA P-256 (adapters holding raw r‖s convert with `ecdsaRawToDer`).
 */
import type { TufKey } from './keys.js'

export interface Signer {
  /** TUF keyid of `publicKey` (sha256 of its canonical JSON) */
  readonly keyId: string
  readonly publicKey: TufKey
  sign(data: Uint8Array): Promise<Uint8Array>
}

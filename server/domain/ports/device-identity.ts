/**
 * Ports of device identity: the device CA (certificates, CRLs), the nonce store that
 * makes a message signature single-use across replicas, and key attestation.
 */

/** A certificate the device CA issued. */
export interface IssuedDeviceCertificate {
  pem: string
  /** lowercase hex, no leading zeros */
  serial: string
  keyType: 'ecdsa' | 'ed25519'
  /** SubjectPublicKeyInfo DER of the device key */
  spki: Buffer
  notBefore: Date
  notAfter: Date
}

/** What a CSR says, checked (its signature proves possession of the key). */
export interface CheckedCsr {
  commonName: string
  keyType: 'ecdsa' | 'ed25519'
  spki: Buffer
}

export interface DeviceCertificateAuthority {
  readonly certificatePem: string
  /**
   * Parse a PEM CSR: CERT_CSR_INVALID (not a CSR), CERT_CSR_KEY_NOT_ALLOWED (not P-256 or
   * Ed25519), CERT_CSR_SIGNATURE_INVALID (not signed by the key it carries).
   */
  checkCsr(csrPem: string): CheckedCsr
  /** Issue a client certificate for `deviceId` (SAN URI urn:slipway:device:<id>) from the CSR. */
  issue(csrPem: string, o: { deviceId: string; csrCommonName: string; lifetimeSeconds: number; now: Date }): Promise<IssuedDeviceCertificate>
  /** Check a presented certificate chains to this CA and is valid now: CERT_CHAIN_INVALID, CERT_EXPIRED. */
  verify(certPem: string, now: Date): { deviceId: string; serial: string }
  /** A signed CRL (RFC 5280 §5) listing `revoked`. */
  revocationList(revoked: ReadonlyArray<{ serial: string; revokedAt: Date }>, o: { number: number; thisUpdate: Date; nextUpdate: Date }): Promise<string>
}

/**
 * Single-use values. `claim` returns true the first time a key is claimed within
 * `ttlSeconds`, false after. Shared by every replica (Redis) when scaled out.
 */
export interface NonceStore {
  claim(key: string, ttlSeconds: number): Promise<boolean>
  close?(): Promise<void>
}

/**
 * Key attestation (TPM2_Certify against the operator's EK CA), built elsewhere; opaque
 * here. Resolves `tpmResident: true` only when it proves the device key lives in a TPM;
 * throws (with its own code) when the attestation is forged or does not chain.
 */
export interface KeyAttestationVerifier {
  /** Round 1 (TPM credential activation): a challenge only the TPM holding that EK and AK can answer; opaque here. */
  challenge(request: unknown): Promise<unknown>
  verify(attestation: unknown, devicePublicKeySpkiDer: Buffer): Promise<{ tpmResident: boolean }>
}

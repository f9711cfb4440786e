/**
 * The device-key port (a local copy of `DeviceKey` from the identity work in
 * `device-key.ts`; the two are the same interface and merge into one): the key the
 * agent proves its identity with. Adapters: a file key, `TpmDeviceKey`.
 */
export interface DeviceKey {
  readonly keyType: 'ecdsa' | 'ed25519'
  /** SubjectPublicKeyInfo, PEM */
  readonly publicKeyPem: string
  /** ecdsa: DER ECDSA-Sig-Value over SHA-256(data); ed25519: 64 raw bytes */
  sign(data: Uint8Array): Promise<Uint8Array>
}

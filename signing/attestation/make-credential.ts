/**
 * TPM2_MakeCredential done outside a TPM (TPM 2.0 Part 1 §24 "Credential
 * Protection", Part 3 §12.6): wrap a secret so that only the TPM holding the
 * endorsement key's private half can unwrap it, and only while an object with
 * the given Name (the attestation key) is loaded in it (TPM2_ActivateCredential).
 *
 * For the RSA 2048 EK of the TCG EK Credential Profile template L-1 (nameAlg
 * SHA-256, symmetric AES-128-CFB), which is what the EK certificate at NV index
 * 0x01c00002 certifies:
 *   seed       = 32 random bytes, RSA-OAEP(SHA-256, label "IDENTITY\0") to the EK  (Part 1 §B.10.3)
 *   symKey     = KDFa(SHA-256, seed, "STORAGE", akName, "", 128)                 (Part 1 §24.4)
 *   encIdentity= AES-128-CFB(symKey, IV 0, TPM2B_DIGEST(secret))
 *   hmacKey    = KDFa(SHA-256, seed, "INTEGRITY", "", "", 256)                    (Part 1 §24.5)
 *   outerHMAC  = HMAC-SHA-256(hmacKey, encIdentity ‖ akName)
 *   credentialBlob  = TPM2B_ID_OBJECT(TPM2B_DIGEST(outerHMAC) ‖ encIdentity)
 *   encryptedSecret = TPM2B_ENCRYPTED_SECRET(RSA-OAEP ciphertext)
 */
import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto'
import { TrustError } from '../errors.js'

const u16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const sized = (b: Buffer) => Buffer.concat([u16(b.length), b])

/** KDFa (Part 1 §11.4.10.2): SP 800-108 counter-mode KDF with HMAC; `label` gets its terminating NUL. */
export function kdfa(hash: 'sha256', key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = []
  const fixed = Buffer.concat([Buffer.from(label + '\0', 'latin1'), contextU, contextV, u32(bits)])
  for (let i = 1, have = 0; have < bits / 8; i++) {
    const block = createHmac(hash, key).update(u32(i)).update(fixed).digest()
    out.push(block)
    have += block.length
  }
  return Buffer.concat(out).subarray(0, bits / 8)
}

export interface Credential {
  /** TPM2B_ID_OBJECT */
  credentialBlob: Buffer
  /** TPM2B_ENCRYPTED_SECRET */
  encryptedSecret: Buffer
}

/** Wrap `secret` (≤ 32 bytes) for the TPM that holds `ek`, bound to the object named `akName`. */
export function makeCredential(ek: KeyObject, akName: Buffer, secret: Buffer): Credential {
  if (ek.asymmetricKeyType !== 'rsa' || ek.asymmetricKeyDetails?.modulusLength !== 2048)
    throw new TrustError('ATTESTATION_MALFORMED', 'attestation: only an RSA 2048 endorsement key (EK template L-1) is supported')
  if (secret.length > 32) throw new TrustError('ATTESTATION_MALFORMED', 'credential secret longer than the EK name digest')
  const seed = randomBytes(32)
  const encSeed = publicEncrypt({ key: ek, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('IDENTITY\0', 'latin1') }, seed)
  const symKey = kdfa('sha256', seed, 'STORAGE', akName, Buffer.alloc(0), 128)
  const cipher = createCipheriv('aes-128-cfb', symKey, Buffer.alloc(16))
  const encIdentity = Buffer.concat([cipher.update(sized(secret)), cipher.final()])
  const hmacKey = kdfa('sha256', seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256)
  const outerHmac = createHmac('sha256', hmacKey).update(encIdentity).update(akName).digest()
  return { credentialBlob: sized(Buffer.concat([sized(outerHmac), encIdentity])), encryptedSecret: sized(encSeed) }
}

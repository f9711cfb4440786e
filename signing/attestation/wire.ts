/**
 * The JSON the agent and the server exchange for TPM key attestation
 * (client-sdk/DEVICE-API.md "TPM key attestation"). One definition for both
 * sides; binary TPM structures travel as standard base64.
 */
import { TrustError } from '../errors.js'

/** Round 1, agent → server: the EK certificate and the attestation key to bind to it. */
export interface ActivationRequest {
  /** EK certificate, DER, as read from NV index 0x01c00002 (trailing NV padding allowed) */
  ekCertificate: string
  /** the attestation key's TPMT_PUBLIC */
  akPublic: string
}

/** Round 1, server → agent: a credential only the TPM holding that EK and AK can open. */
export interface ActivationChallenge {
  /** opaque; sent back unchanged in `activation.challenge` */
  challenge: string
  /** TPM2B_ID_OBJECT (TPM2_MakeCredential `credentialBlob`) */
  credentialBlob: string
  /** TPM2B_ENCRYPTED_SECRET (TPM2_MakeCredential `secret`) */
  encryptedSecret: string
}

/** Round 2, agent → server, the enrollment body's `attestation`: the device key certified by the AK. */
export interface TpmKeyAttestation {
  format: 'tpm2-certify'
  ekCertificate: string
  akPublic: string
  /** the device key's TPMT_PUBLIC */
  keyPublic: string
  /** TPMS_ATTEST of TPM2_Certify(device key) signed by the AK */
  certifyInfo: string
  /** DER ECDSA-Sig-Value by the AK over SHA-256(certifyInfo) */
  certifySignature: string
  activation: {
    challenge: string
    /** what TPM2_ActivateCredential returned */
    secret: string
  }
}

const malformed = (what: string) => new TrustError('ATTESTATION_MALFORMED', `attestation: ${what}`)
const B64 = /^[A-Za-z0-9+/]+={0,2}$/

function bytes(o: Record<string, unknown>, k: string, max = 8192): Buffer {
  const v = o[k]
  if (typeof v !== 'string' || !v.length || v.length > (max * 4) / 3 + 4 || !B64.test(v)) throw malformed(`${k} must be base64 (at most ${max} bytes)`)
  return Buffer.from(v, 'base64')
}

const object = (v: unknown, what: string): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed(`${what} must be an object`)
  return v as Record<string, unknown>
}

export interface DecodedActivationRequest {
  ekCertificate: Buffer
  akPublic: Buffer
}

export function decodeActivationRequest(v: unknown): DecodedActivationRequest {
  const o = object(v, 'the activation request')
  return { ekCertificate: bytes(o, 'ekCertificate'), akPublic: bytes(o, 'akPublic', 1024) }
}

export interface DecodedAttestation extends DecodedActivationRequest {
  keyPublic: Buffer
  certifyInfo: Buffer
  certifySignature: Buffer
  challenge: string
  secret: Buffer
}

export function decodeAttestation(v: unknown): DecodedAttestation {
  const o = object(v, 'attestation')
  if (o.format !== 'tpm2-certify') throw malformed('format must be "tpm2-certify"')
  const a = object(o.activation, 'activation')
  if (typeof a.challenge !== 'string' || !a.challenge || a.challenge.length > 1024) throw malformed('activation.challenge must be the string the server issued')
  return {
    ...decodeActivationRequest(o),
    keyPublic: bytes(o, 'keyPublic', 1024),
    certifyInfo: bytes(o, 'certifyInfo', 1024),
    certifySignature: bytes(o, 'certifySignature', 256),
    challenge: a.challenge,
    secret: bytes(a, 'secret', 64),
  }
}

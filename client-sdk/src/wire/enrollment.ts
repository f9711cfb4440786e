/**
 * Enrollment, TPM key attestation and certificate renewal (DEVICE-API.md "Enrollment",
 * "TPM key attestation"). Requests refuse unknown fields; answers allow them, so a newer
 * server may add one without breaking an older agent.
 */
import { Name, Sha256, Tag } from './common.js'
import type { FromSchema, Received } from './schema.js'

export const InstalledSchema = {
  type: 'object',
  properties: { name: Name, version: Name, sha256: Sha256, securityVersion: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 } },
  required: ['name', 'version', 'sha256'],
  additionalProperties: false,
} as const
export type Installed = Received<typeof InstalledSchema>

const EnrollmentToken = { type: 'string', minLength: 1, maxLength: 256 } as const

export const EnrollRequestSchema = {
  type: 'object',
  properties: {
    enrollmentToken: EnrollmentToken,
    hardwareId: { type: 'string', minLength: 1, maxLength: 128 },
    hardware: Name,
    tags: { type: 'array', items: Tag, maxItems: 64, default: [] },
    installed: { type: 'array', items: InstalledSchema, maxItems: 16, default: [] },
    csr: { type: 'string', minLength: 1, maxLength: 16384, description: 'PEM PKCS#10 request, subject CN = hardwareId, signed with the new device key (ECDSA P-256 or Ed25519)' },
    attestation: { description: 'key attestation (TPM2_Certify), checked by the configured verifier' },
  },
  required: ['enrollmentToken', 'hardwareId', 'hardware'],
  additionalProperties: false,
} as const
export type EnrollRequest = FromSchema<typeof EnrollRequestSchema>

/** Round 1 of a TPM key attestation (DEVICE-API.md "TPM key attestation"). */
export const AttestationChallengeRequestSchema = {
  type: 'object',
  properties: {
    enrollmentToken: EnrollmentToken,
    ekCertificate: { type: 'string', minLength: 1, maxLength: 8192, description: "the TPM's EK certificate, DER base64 (NV index 0x01c00002)" },
    akPublic: { type: 'string', minLength: 1, maxLength: 1024, description: "the attestation key's TPMT_PUBLIC, base64" },
  },
  required: ['enrollmentToken', 'ekCertificate', 'akPublic'],
  additionalProperties: false,
} as const
export type AttestationChallengeRequest = FromSchema<typeof AttestationChallengeRequestSchema>

export const AttestationChallengeSchema = {
  type: 'object',
  properties: {
    challenge: { type: 'string', description: 'sealed by the server; sent back with the attestation' },
    credentialBlob: { type: 'string', description: 'TPM2_MakeCredential credential blob, base64' },
    encryptedSecret: { type: 'string', description: 'the seed encrypted to the EK, base64' },
  },
  required: ['challenge', 'credentialBlob', 'encryptedSecret'],
} as const
export type AttestationChallenge = FromSchema<typeof AttestationChallengeSchema>

const certificateProperties = {
  deviceId: { type: 'string' },
  group: { type: 'string' },
  state: {
    type: 'string',
    enum: ['active', 'pending'],
    description: 'pending: a re-enrollment claim without proof of the current key; it reaches nothing until an operator approves it',
  },
  certificate: { type: 'string', description: 'PEM device certificate' },
  serial: { type: 'string', description: 'certificate serial, lowercase hex: the keyid of message signatures' },
  notAfter: { type: 'string' },
  caCertificate: { type: 'string', description: 'PEM device CA certificate' },
  keyTpmResident: { type: 'boolean' },
} as const
const certificateRequired = ['deviceId', 'group', 'state', 'certificate', 'serial', 'notAfter', 'caCertificate', 'keyTpmResident'] as const

/** A device certificate as issued (enrollment, renewal). */
export const CertificateGrantSchema = { type: 'object', properties: certificateProperties, required: certificateRequired } as const
export type CertificateGrant = FromSchema<typeof CertificateGrantSchema>

/** Key-bound enrollment answers with a certificate; bearer enrollment (SLIPWAY_DEVICE_BEARER_COMPAT) with a credential. */
export const EnrollReplySchema = {
  anyOf: [
    { type: 'object', properties: { ...certificateProperties, pollIntervalSeconds: { type: 'integer' } }, required: [...certificateRequired, 'pollIntervalSeconds'] },
    {
      type: 'object',
      properties: { deviceId: { type: 'string' }, credential: { type: 'string', minLength: 1 }, group: { type: 'string' }, pollIntervalSeconds: { type: 'integer' } },
      required: ['deviceId', 'credential', 'group', 'pollIntervalSeconds'],
    },
  ],
} as const
export type EnrollReply = FromSchema<typeof EnrollReplySchema>

export const RenewRequestSchema = {
  type: 'object',
  properties: {
    csr: { type: 'string', minLength: 1, maxLength: 16384, description: 'PEM PKCS#10 request, subject CN = device id (same or new key)' },
    attestation: {},
  },
  required: ['csr'],
  additionalProperties: false,
} as const
export type RenewRequest = FromSchema<typeof RenewRequestSchema>

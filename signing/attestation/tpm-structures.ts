/**
 * The few TPM 2.0 structures key attestation needs, read from their wire form
 * (TPM 2.0 Library Part 2, big-endian, sizes as uint16 prefixes):
 *   - TPMT_PUBLIC of an ECC key (§12.2.4) and its Name = nameAlg ‖ H_nameAlg(TPMT_PUBLIC) (Part 1 §16);
 *   - TPMS_ATTEST of TPM2_Certify (§10.12.12, attested = TPMS_CERTIFY_INFO §10.12.3).
 * Only what Slipway accepts is decoded: ECC NIST P-256 keys with SHA-256 names.
 * Node built-ins only: the device agent imports this file too.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { TrustError } from '../errors.js'

export const TPM_ALG = { SHA256: 0x000b, NULL: 0x0010, ECC: 0x0023, ECDSA: 0x0018 } as const
export const TPM_ECC_NIST_P256 = 0x0003
/** TPM_GENERATED_VALUE: the TPM puts it first in everything it signs with a restricted key */
export const TPM_GENERATED = 0xff544347
export const TPM_ST_ATTEST_CERTIFY = 0x8017

/** TPMA_OBJECT bits (Part 2 §8.3) */
export const ATTR = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const

/** A key generated inside a TPM that can never leave it (Part 1 §27.2): what "TPM-resident" means here. */
export const RESIDENT = ATTR.fixedTPM | ATTR.fixedParent | ATTR.sensitiveDataOrigin

export interface TpmEccPublic {
  /** the exact TPMT_PUBLIC bytes (the Name is computed over them) */
  bytes: Buffer
  nameAlg: number
  attributes: number
  /** scheme of a signing key (TPM_ALG_ECDSA, or NULL for "any") and its hash */
  scheme: number
  schemeHash: number
  x: Buffer
  y: Buffer
}

export interface TpmCertifyInfo {
  magic: number
  type: number
  qualifiedSigner: Buffer
  extraData: Buffer
  /** Name of the certified object */
  name: Buffer
  qualifiedName: Buffer
}

const malformed = (what: string) => new TrustError('ATTESTATION_MALFORMED', `attestation: ${what}`)

/** A bounds-checked big-endian reader that refuses short or trailing bytes. */
class Reader {
  private off = 0
  constructor(
    private readonly b: Buffer,
    private readonly what: string,
  ) {}
  private take(n: number): Buffer {
    if (this.off + n > this.b.length) throw malformed(`${this.what} is truncated`)
    const out = this.b.subarray(this.off, this.off + n)
    this.off += n
    return out
  }
  u8 = () => this.take(1).readUInt8(0)
  u16 = () => this.take(2).readUInt16BE(0)
  u32 = () => this.take(4).readUInt32BE(0)
  u64 = () => this.take(8)
  sized = () => this.take(this.u16())
  end(): void {
    if (this.off !== this.b.length) throw malformed(`${this.what} has ${this.b.length - this.off} trailing bytes`)
  }
}

/** Parse a TPMT_PUBLIC; only ECC P-256 keys with a SHA-256 name are accepted. */
export function parseEccPublic(bytes: Buffer): TpmEccPublic {
  const r = new Reader(bytes, 'TPMT_PUBLIC')
  const type = r.u16()
  const nameAlg = r.u16()
  const attributes = r.u32()
  r.sized() // authPolicy
  if (type !== TPM_ALG.ECC) throw malformed(`key type 0x${type.toString(16)} is not ECC`)
  if (nameAlg !== TPM_ALG.SHA256) throw malformed(`name algorithm 0x${nameAlg.toString(16)} is not SHA-256`)
  const symmetric = r.u16()
  if (symmetric !== TPM_ALG.NULL) r.u16(), r.u16() // keyBits, mode: only storage parents have one
  const scheme = r.u16()
  const schemeHash = scheme === TPM_ALG.NULL ? TPM_ALG.NULL : r.u16()
  if (scheme !== TPM_ALG.NULL && scheme !== TPM_ALG.ECDSA) throw malformed(`ECC scheme 0x${scheme.toString(16)} is not ECDSA`)
  const curve = r.u16()
  if (curve !== TPM_ECC_NIST_P256) throw malformed(`curve 0x${curve.toString(16)} is not NIST P-256`)
  const kdf = r.u16()
  if (kdf !== TPM_ALG.NULL) r.u16()
  const x = r.sized()
  const y = r.sized()
  r.end()
  if (x.length !== 32 || y.length !== 32) throw malformed('P-256 point coordinates must be 32 bytes')
  return { bytes, nameAlg, attributes, scheme, schemeHash, x, y }
}

/** TPMT_PUBLIC from a TPM2B_PUBLIC (what `tpm2_readpublic -o` and `tpm2_createak -u` write). */
export function unwrapTpm2bPublic(tpm2b: Buffer): Buffer {
  if (tpm2b.length < 2 || tpm2b.readUInt16BE(0) !== tpm2b.length - 2) throw malformed('TPM2B_PUBLIC size does not match')
  return tpm2b.subarray(2)
}

/** The TPM Name of an object: nameAlg ‖ H(TPMT_PUBLIC) (Part 1 §16: what Certify and MakeCredential bind to). */
export function nameOf(pub: TpmEccPublic): Buffer {
  const alg = Buffer.alloc(2)
  alg.writeUInt16BE(pub.nameAlg)
  return Buffer.concat([alg, createHash('sha256').update(pub.bytes).digest()])
}

/** The key as a Node public key (for verifying its signatures, comparing with SPKI). */
export function keyObjectOf(pub: TpmEccPublic): KeyObject {
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: pub.x.toString('base64url'), y: pub.y.toString('base64url') }, format: 'jwk' })
}

/** Parse the TPMS_ATTEST of TPM2_Certify. The caller checks the signature over these bytes first. */
export function parseCertifyInfo(bytes: Buffer): TpmCertifyInfo {
  const r = new Reader(bytes, 'TPMS_ATTEST')
  const magic = r.u32()
  const type = r.u16()
  const qualifiedSigner = r.sized()
  const extraData = r.sized()
  r.u64(), r.u32(), r.u32(), r.u8() // clockInfo: clock, resetCount, restartCount, safe
  r.u64() // firmwareVersion
  if (type !== TPM_ST_ATTEST_CERTIFY) throw malformed(`attestation type 0x${type.toString(16)} is not TPM_ST_ATTEST_CERTIFY`)
  const name = r.sized()
  const qualifiedName = r.sized()
  r.end()
  return { magic, type, qualifiedSigner, extraData, name, qualifiedName }
}

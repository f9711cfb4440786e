/**
 * File-key signer adapter, for development and for CI keys kept as files.
 * Keys are PKCS#8 PEM private keys; saving never overwrites and writes mode 0600.
 * A server using a file key for the `online` role should warn loudly at start
 * (`signer instanceof FileKeySigner`).
 */
import { createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { TrustError } from './errors.js'
import { keyIdOf, tufKeyFromKeyObject, type KeyType, type TufKey } from './keys.js'
import type { Signer } from './signer.js'

export class FileKeySigner implements Signer {
  readonly keyId: string
  readonly publicKey: TufKey
  readonly #key: KeyObject

  private constructor(key: KeyObject) {
    this.#key = key
    this.publicKey = tufKeyFromKeyObject(key)
    this.keyId = keyIdOf(this.publicKey)
  }

  /** A fresh key pair: Ed25519, or ECDSA on P-256. */
  static generate(type: KeyType): FileKeySigner {
    const { privateKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
    return new FileKeySigner(privateKey)
  }

  static fromPem(pem: string): FileKeySigner {
    let key: KeyObject
    try {
      key = createPrivateKey({ key: pem, format: 'pem' })
    } catch (e) {
      throw new TrustError('SIGNER_FILE_INVALID', 'not a PEM private key', undefined, { cause: e })
    }
    try {
      return new FileKeySigner(key)
    } catch (e) {
      throw new TrustError('SIGNER_FILE_INVALID', 'key is neither Ed25519 nor ECDSA P-256', undefined, { cause: e })
    }
  }

  static async load(path: string): Promise<FileKeySigner> {
    let pem: string
    try {
      pem = await readFile(path, 'utf8')
    } catch (e) {
      throw new TrustError('SIGNER_FILE_INVALID', `cannot read key file ${path}`, { path }, { cause: e })
    }
    return FileKeySigner.fromPem(pem)
  }

  toPem(): string {
    return this.#key.export({ format: 'pem', type: 'pkcs8' }).toString()
  }

  /** Write the private key; fails if `path` exists. */
  async save(path: string): Promise<void> {
    await writeFile(path, this.toPem(), { mode: 0o600, flag: 'wx' })
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    // Ed25519 hashes internally (algorithm null); ECDSA: SHA-256, DER output (Node's default).
    return cryptoSign(this.publicKey.keytype === 'ed25519' ? null : 'sha256', data, this.#key)
  }
}

/**
 * The loud start-up warning for a file key in a role that should be in hardware
 * (the `online` key, a device CA), or undefined for any other signer.
 */
export function fileKeyWarning(signer: Signer, role: string): string | undefined {
  if (!(signer instanceof FileKeySigner)) return undefined
  return `WARNING: the ${role} key ${signer.keyId} is a FILE key. Anyone who can read the file can sign as ${role}. Use a PKCS#11 key (HSM, TPM, KMS) in production.`
}

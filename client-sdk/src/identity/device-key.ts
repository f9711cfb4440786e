/**
 * The device key port (cf. signing/signer.ts): one key, one operation. The file
 * implementation below keeps a PKCS#8 PEM of mode 0600; a TPM-resident key (tpm2-tools)
 * implements the same interface, so enrollment, renewal and request signing never
 * know where the key lives.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { AgentError } from '../errors.js'
import { writeFileDurable } from '../journal/atomic-file.js'

export interface DeviceKey {
  readonly keyType: 'ecdsa' | 'ed25519'
  /** SubjectPublicKeyInfo PEM */
  readonly publicKeyPem: string
  /** ecdsa: DER ECDSA-Sig-Value over SHA-256 of `data`; ed25519: the raw 64 bytes */
  sign(data: Uint8Array): Promise<Uint8Array>
}

export class FileDeviceKey implements DeviceKey {
  readonly keyType: 'ecdsa' | 'ed25519'
  readonly publicKeyPem: string
  readonly #key: KeyObject

  private constructor(key: KeyObject) {
    this.#key = key
    if (key.asymmetricKeyType === 'ed25519') this.keyType = 'ed25519'
    else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') this.keyType = 'ecdsa'
    else throw new AgentError('CONFIG_INVALID', `device key: ${key.asymmetricKeyType ?? '?'} is neither Ed25519 nor ECDSA P-256`)
    this.publicKeyPem = createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString()
  }

  /** A new key in memory (tests, simulators); `save` it to keep it. */
  static generate(type: 'ecdsa' | 'ed25519' = 'ed25519'): FileDeviceKey {
    const { privateKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
    return new FileDeviceKey(privateKey)
  }

  static fromPem(pem: string): FileDeviceKey {
    try {
      return new FileDeviceKey(createPrivateKey(pem))
    } catch (e) {
      if (e instanceof AgentError) throw e
      throw new AgentError('CONFIG_INVALID', 'device key: not a PEM private key', undefined, { cause: e })
    }
  }

  /** The key at `path`; undefined when there is none. Refused when others can read it (like ssh). */
  static async load(path: string): Promise<FileDeviceKey | undefined> {
    const st = await stat(path).catch(() => undefined)
    if (!st) return undefined
    if ((st.mode & 0o077) !== 0) throw new AgentError('CONFIG_INVALID', `device key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`, { path })
    return FileDeviceKey.fromPem(await readFile(path, 'utf8'))
  }

  /** Write the key with mode 0600 (atomically: a crash leaves the old key or the new one). */
  async save(path: string): Promise<void> {
    await writeFileDurable(path, this.#key.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    return this.keyType === 'ed25519' ? cryptoSign(null, data, this.#key) : cryptoSign('sha256', data, this.#key)
  }
}

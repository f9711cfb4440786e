/**
 * PKCS#11 signer adapter: the private key never leaves the token. Works with any
 * module: SoftHSM2, a network HSM, a YubiHSM (yubihsm_pkcs11.so), a TPM via
 * tpm2-pkcs11, or a cloud KMS PKCS#11 library.
 *   - Ed25519: CKM_EDDSA over the message (PKCS#11 v3.0 §2.3.14);
 *   - ECDSA P-256: CKM_ECDSA over SHA-256(message), raw r‖s converted to DER.
 * One operation at a time per session (PKCS#11 sessions are not concurrent), so
 * sign() calls are queued. A session lost under us (HSM restart, network HSM
 * reconnect, token re-inserted) is reopened once, and the signature retried.
 */
import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import pkcs11js from 'pkcs11js'
import { ecdsaRawToDer } from '../ecdsa-der.js'
import { TrustError } from '../errors.js'
import { keyIdOf, tufKeyFromKeyObject, type KeyType, type TufKey } from '../keys.js'
import type { Signer } from '../signer.js'
import type { Pkcs11Config } from './config.js'
import { keyTypeOfParams, publicKeyFromEcPoint } from './ec-point.js'
import { ckrName, pkcs11Failure, TokenSession } from './session.js'

/** Mechanisms and key type the Node libraries do not export (PKCS#11 v3.0). */
export const CKM_EDDSA = 0x1057
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055
export const CKK_EC_EDWARDS = 0x40

/** Return values after which a fresh session (and login) may succeed. */
const SESSION_LOST = new Set(['CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN', 'CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_ERROR'])

/** Find the key pair labelled `keyLabel`: private handle and public key. */
function findKeyPair(session: TokenSession, config: Pkcs11Config): { privateKey: Buffer; publicKey: KeyObject } {
  const priv = session.find(pkcs11js.CKO_PRIVATE_KEY, config.keyLabel)
  const pub = session.find(pkcs11js.CKO_PUBLIC_KEY, config.keyLabel)
  if (priv.length === 0 || pub.length === 0)
    throw new TrustError('PKCS11_KEY_NOT_FOUND', `no key pair labelled "${config.keyLabel}" on token "${config.tokenLabel}"`, {
      keyLabel: config.keyLabel, tokenLabel: config.tokenLabel, privateFound: priv.length > 0, publicFound: pub.length > 0,
    })
  if (priv.length > 1 || pub.length > 1)
    throw new TrustError('PKCS11_FAILED', `several keys labelled "${config.keyLabel}"; labels must be unique`, { keyLabel: config.keyLabel })
  const [params, point] = session.lib.C_GetAttributeValue(session.handle, pub[0] as Buffer, [
    { type: pkcs11js.CKA_EC_PARAMS },
    { type: pkcs11js.CKA_EC_POINT },
  ]).map((a) => a.value as Buffer)
  const type = keyTypeOfParams(params as Buffer)
  return { privateKey: priv[0] as Buffer, publicKey: publicKeyFromEcPoint(type, point as Buffer) }
}

export class Pkcs11Signer implements Signer {
  readonly keyId: string
  readonly publicKey: TufKey
  readonly keyType: KeyType
  readonly keyLabel: string
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #session: TokenSession
  #privateKey: Buffer

  private constructor(
    session: TokenSession,
    privateKey: Buffer,
    readonly publicKeyObject: KeyObject,
    private readonly config: Pkcs11Config,
  ) {
    this.#session = session
    this.#privateKey = privateKey
    this.keyLabel = config.keyLabel
    this.publicKey = tufKeyFromKeyObject(publicKeyObject)
    this.keyType = this.publicKey.keytype
    this.keyId = keyIdOf(this.publicKey)
  }

  /**
   * Open the token and find the key pair labelled `keyLabel`. Fails at startup,
   * with a code, on: module not found, token not found, PIN missing or wrong, key
   * missing, or a public object that does not match the private key.
   */
  static async open(config: Pkcs11Config): Promise<Pkcs11Signer> {
    const session = await TokenSession.open(config)
    try {
      const { privateKey, publicKey } = findKeyPair(session, config)
      const signer = new Pkcs11Signer(session, privateKey, publicKey, config)
      await signer.#selfTest()
      return signer
    } catch (e) {
      session.close()
      throw pkcs11Failure(`opening key "${config.keyLabel}"`, e)
    }
  }

  /** A signature that does not verify means the labels pair the wrong objects. */
  async #selfTest(): Promise<void> {
    const probe = Buffer.from(`slipway pkcs11 self-test ${this.keyId}`)
    const sig = await this.sign(probe)
    if (!cryptoVerify(this.keyType === 'ed25519' ? null : 'sha256', probe, this.publicKeyObject, sig))
      throw new TrustError('SIGNER_KEY_MISMATCH', `private and public key "${this.keyLabel}" do not match`, { keyLabel: this.keyLabel })
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    const run = this.#queue.then(() => this.#signNow(Buffer.from(data.buffer, data.byteOffset, data.byteLength)))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #signNow(data: Buffer, retried = false): Promise<Uint8Array> {
    if (this.#closed) throw new TrustError('PKCS11_FAILED', 'signer is closed')
    const { lib, handle } = this.#session
    try {
      if (this.keyType === 'ed25519') {
        lib.C_SignInit(handle, { mechanism: CKM_EDDSA }, this.#privateKey)
        return await lib.C_SignAsync(handle, data, Buffer.alloc(64))
      }
      lib.C_SignInit(handle, { mechanism: pkcs11js.CKM_ECDSA }, this.#privateKey)
      const digest = createHash('sha256').update(data).digest()
      return ecdsaRawToDer(await lib.C_SignAsync(handle, digest, Buffer.alloc(64)))
    } catch (e) {
      if (retried || !SESSION_LOST.has(ckrName(e) ?? '')) throw pkcs11Failure(`signing with "${this.keyLabel}"`, e)
      await this.#reopen()
      return this.#signNow(data, true)
    }
  }

  /** New session and key handle; the key must still be the same key. */
  async #reopen(): Promise<void> {
    const session = await TokenSession.open(this.config)
    try {
      const { privateKey, publicKey } = findKeyPair(session, this.config)
      if (!publicKey.equals(this.publicKeyObject))
        throw new TrustError('SIGNER_KEY_MISMATCH', `key "${this.keyLabel}" changed on the token`, { keyLabel: this.keyLabel })
      this.#session.close()
      this.#session = session
      this.#privateKey = privateKey
    } catch (e) {
      session.close()
      throw pkcs11Failure(`reopening key "${this.keyLabel}"`, e)
    }
  }

  /** Close the session (and the module, if no other signer uses it). */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#queue
    this.#closed = true
    this.#session.close()
  }
}

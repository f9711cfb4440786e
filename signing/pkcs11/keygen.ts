/**
 * Key generation inside the token, for the key ceremony: the private key is
 * created non-extractable and sensitive, so it can never be exported; only the
 * public key comes out (as a TUF key).
 */
import pkcs11js from 'pkcs11js'
import { randomBytes } from 'node:crypto'
import { TrustError } from '../errors.js'
import type { KeyType } from '../keys.js'
import type { Pkcs11Config } from './config.js'
import { EC_PARAMS } from './ec-point.js'
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, Pkcs11Signer } from './pkcs11-signer.js'
import { pkcs11Failure, TokenSession } from './session.js'

/** Generate a key pair labelled `config.keyLabel` in the token and open a signer on it. */
export async function generateTokenKey(config: Pkcs11Config, type: KeyType): Promise<Pkcs11Signer> {
  const session = await TokenSession.open(config)
  try {
    if (session.find(pkcs11js.CKO_PRIVATE_KEY, config.keyLabel).length > 0 || session.find(pkcs11js.CKO_PUBLIC_KEY, config.keyLabel).length > 0)
      throw new TrustError('PKCS11_KEY_EXISTS', `token "${config.tokenLabel}" already holds a key labelled "${config.keyLabel}"`, { keyLabel: config.keyLabel })
    const id = randomBytes(16)
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: config.keyLabel },
      { type: pkcs11js.CKA_ID, value: id },
    ]
    const mechanism = type === 'ed25519' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN
    try {
      session.lib.C_GenerateKeyPair(
        session.handle,
        { mechanism },
        [...common, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_EC_PARAMS, value: type === 'ed25519' ? EC_PARAMS.ed25519 : EC_PARAMS.p256 }],
        [
          ...common,
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        ],
      )
    } catch (e) {
      throw pkcs11Failure(`generating a ${type} key in "${config.tokenLabel}"`, e)
    }
    return await Pkcs11Signer.open(config) // before close: keeps the module initialised
  } finally {
    session.close()
  }
}

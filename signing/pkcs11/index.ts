/** PKCS#11 adapter of the Signer port (loads the native pkcs11js module). */
export { Pkcs11Signer, CKM_EDDSA, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS } from './pkcs11-signer.js'
export { generateTokenKey } from './keygen.js'
export { describeConfig, type Pkcs11Config, type PinSource } from './config.js'

/** Device certificates: a device CA behind the Signer port (uses node-forge). */
export { DeviceCa, type IssuedCertificate, type Revocation } from './device-ca.js'
export { createCsr, parseCsr, type ParsedCsr } from './csr.js'
export { verifyDeviceCertificate, parseRevocationList, type RevocationList } from './verify-certificate.js'

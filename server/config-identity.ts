/** Device identity settings (issue 10): certificates, bearer compatibility, trusted proxies, TLS, TPM attestation. */
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { bool, ConfigError, integer, type Source } from './config-values.js'

/** Device identity (client-sdk/DEVICE-API.md "Identity"). */
export interface DeviceIdentityConfig {
  /** lifetime of issued device certificates, seconds (default 30 days); agents renew at 2/3 */
  certLifetimeSeconds: number
  /** also accept the old `sld_` bearer credentials, for one release (default false) */
  bearerCompat: boolean
  /** peers allowed to forward a verified client certificate in X-Client-Cert: IPs and CIDRs */
  trustedProxies: string[]
  /** terminate TLS in the server (https, optional client certificates) when set */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string }
}

/** TPM key attestation at enrollment (issue 10, "TPM"); off unless SLIPWAY_TPM_EK_CA_FILE is set. */
export interface TpmAttestationConfig {
  /** PEM bundle of the EK CA certificates trusted (TPM manufacturers' roots and intermediates) */
  ekCaFile: string
  /** ≥ 32 random bytes, the same file on every replica: activation challenges derive from it (created 0600 when missing) */
  challengeKeyFile: string
  /** seconds a device has to answer an activation challenge (default 300) */
  challengeTtlSeconds: number
}

export function identityConfig(src: Source): DeviceIdentityConfig {
  return {
    certLifetimeSeconds: integer(src, 'SLIPWAY_DEVICE_CERT_LIFETIME_SECONDS', 30 * 86400, 60, 825 * 86400),
    bearerCompat: bool(src, 'SLIPWAY_DEVICE_BEARER_COMPAT', false),
    trustedProxies: proxies(src),
    tls: tls(src),
  }
}

export function tpmAttestation(src: Source, keysDir: string): TpmAttestationConfig | undefined {
  if (!src.SLIPWAY_TPM_EK_CA_FILE) {
    const stray = ['SLIPWAY_TPM_CHALLENGE_KEY_FILE', 'SLIPWAY_TPM_CHALLENGE_TTL_SECONDS'].find((v) => src[v])
    if (stray) throw new ConfigError('SLIPWAY_TPM_EK_CA_FILE', `is required when ${stray} is set`)
    return undefined
  }
  return {
    ekCaFile: resolve(src.SLIPWAY_TPM_EK_CA_FILE),
    challengeKeyFile: resolve(src.SLIPWAY_TPM_CHALLENGE_KEY_FILE || `${keysDir}/tpm-challenge.key`),
    challengeTtlSeconds: integer(src, 'SLIPWAY_TPM_CHALLENGE_TTL_SECONDS', 300, 10, 3600),
  }
}

/** SLIPWAY_TRUSTED_PROXIES: comma-separated IPv4/IPv6 addresses and CIDRs. */
function proxies(src: Source): string[] {
  const raw = src.SLIPWAY_TRUSTED_PROXIES
  if (!raw) return []
  return raw.split(',').map((e) => e.trim()).filter(Boolean).map((e) => {
    const [addr, bits, extra] = e.split('/')
    const family = isIP(addr ?? '')
    const max = family === 6 ? 128 : 32
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max)))
      throw new ConfigError('SLIPWAY_TRUSTED_PROXIES', `"${e}" is not an IP address or CIDR`)
    return e
  })
}

function tls(src: Source): DeviceIdentityConfig['tls'] {
  const certFile = src.TLS_CERT_FILE
  const keyFile = src.TLS_KEY_FILE
  if (!certFile && !keyFile) {
    if (src.TLS_CLIENT_CA_FILE) throw new ConfigError('TLS_CERT_FILE', 'is required when TLS_CLIENT_CA_FILE is set')
    return undefined
  }
  if (!certFile) throw new ConfigError('TLS_CERT_FILE', 'is required when TLS_KEY_FILE is set')
  if (!keyFile) throw new ConfigError('TLS_KEY_FILE', 'is required when TLS_CERT_FILE is set')
  return { certFile: resolve(certFile), keyFile: resolve(keyFile), ...(src.TLS_CLIENT_CA_FILE ? { clientCaFile: resolve(src.TLS_CLIENT_CA_FILE) } : {}) }
}

/**
 * The one decision "which device is this, and may it call this route": every device
 * route and the blob downloads go through `authenticate`. A device proves possession
 * of the key of its certificate in one of three ways (client-sdk/DEVICE-API.md
 * "Identity"): mTLS with this server, a client certificate verified and forwarded by a
 * trusted TLS proxy (X-Client-Cert), or an HTTP Message Signature (RFC 9421). Bearer
 * credentials (`sld_`) only with SLIPWAY_DEVICE_BEARER_COMPAT.
 *
 * Revocation holds at once on every replica: the certificate row is read on every
 * request (the same indexed join that reads the device and its assignment).
 */
import { timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { contentDigest, digestOf, MessageSignatureError, parseSignatureHeaders, signatureBase } from '../../../signing/message-signature.js'
import { importSpki } from '../../../signing/spki-import.js'
import { hashToken, DEVICE_CREDENTIAL_PREFIX, type AuthService } from '../auth/auth-service.js'
import { SlipwayError, type CodeOf } from '../errors.js'
import type { DeviceCertificate, DevicePollContext } from '../fleet-model.js'
import { deviceQuarantined, REVOKED_CREDENTIAL_PREFIX } from '../devices/quarantine-service.js'
import type { DeviceCertificateRepository, DeviceRepository } from '../ports/fleet-repositories.js'
import type { DevicePrincipal } from '../model.js'
import type { DeviceCertificateAuthority, NonceStore } from '../ports/device-identity.js'
import type { TrustedProxies } from './trusted-proxies.js'

/** RFC 9421 §7.2.4 freshness: `created` must lie within this many seconds of the server clock. */
export const SIGNATURE_WINDOW_SECONDS = 300
/** a nonce is remembered until no signature carrying it can be fresh any more */
const NONCE_TTL_SECONDS = 2 * SIGNATURE_WINDOW_SECONDS
const KEY_CACHE_MAX = 20_000

/** What the HTTP layer hands over; nothing framework-specific. */
export interface DeviceRequest {
  method: string
  /** request target as received: path and query */
  target: string
  headers: {
    authorization?: string
    signatureInput?: string
    signature?: string
    contentDigest?: string
    /** X-Client-Cert: URL-escaped PEM (nginx `$ssl_client_escaped_cert`) */
    forwardedCert?: string
  }
  /** the raw body bytes (undefined: none) */
  body?: Buffer
  /** PEM of the client certificate presented on this TLS connection (mTLS), if any */
  tlsClientCertificate?: string
  /** socket peer address */
  peer?: string
}

export interface DeviceAuthOptions {
  /** the poll lets a pending claimant in (it gets nothing); every other route refuses it */
  allowPending?: boolean
}

const refuse = (code: CodeOf<'unauthenticated'>, message: string, details?: Record<string, unknown>) => new SlipwayError('unauthenticated', code, message, details)

export interface DeviceAuthDeps {
  certificates: Pick<DeviceCertificateRepository, 'findWithDevice'>
  devices: Pick<DeviceRepository, 'findByCredentialHash'>
  ca: Pick<DeviceCertificateAuthority, 'verify'>
  nonces: NonceStore
  proxies: TrustedProxies
  /** checks an API token sent to a device route, so that a bad one is refused 401 as everywhere else */
  apiTokens?: Pick<AuthService, 'authenticate'>
  /** SLIPWAY_DEVICE_BEARER_COMPAT */
  bearerCompat: boolean
  now?: () => Date
}

export class DeviceAuthService {
  readonly #keys = new Map<string, KeyObject>()
  readonly #now: () => Date

  constructor(private readonly deps: DeviceAuthDeps) {
    this.#now = deps.now ?? (() => new Date())
  }

  /** True when the request carries any device proof (a re-enrollment that offers one must pass it). */
  static offersProof(req: DeviceRequest): boolean {
    return Boolean(req.headers.forwardedCert || req.tlsClientCertificate || req.headers.signatureInput || req.headers.signature || req.headers.authorization?.includes(DEVICE_CREDENTIAL_PREFIX))
  }

  async authenticate(req: DeviceRequest, o: DeviceAuthOptions = {}): Promise<DevicePrincipal> {
    const now = this.#now()
    let principal: DevicePrincipal
    if (req.headers.forwardedCert !== undefined) {
      // only a configured proxy may vouch for a certificate; from anyone else the header is an attack
      if (!this.deps.proxies.has(req.peer))
        throw refuse('DEVICE_CERT_FORWARD_UNTRUSTED', 'X-Client-Cert is accepted only from the proxies in SLIPWAY_TRUSTED_PROXIES', { peer: req.peer })
      let pem: string
      try {
        pem = decodeURIComponent(req.headers.forwardedCert)
      } catch {
        throw refuse('DEVICE_CERT_UNTRUSTED', 'X-Client-Cert is not a URL-escaped PEM certificate')
      }
      principal = await this.#byCertificate(pem, now, 'forwarded-certificate')
    } else if (req.tlsClientCertificate) {
      principal = await this.#byCertificate(req.tlsClientCertificate, now, 'mtls')
    } else if (req.headers.signatureInput !== undefined || req.headers.signature !== undefined) {
      principal = await this.#bySignature(req, now)
    } else {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1]
      if (bearer?.startsWith(DEVICE_CREDENTIAL_PREFIX)) principal = await this.#byBearer(bearer)
      else if (bearer) {
        // a revoked or expired API token is told so (401), like on every other route; a valid one is no device
        await this.deps.apiTokens?.authenticate(bearer)
        throw new SlipwayError('forbidden', 'AUTH_FORBIDDEN', 'an API token is not a device: device routes need a device key')
      }
      else throw refuse('DEVICE_AUTH_MISSING', 'a device request needs a client certificate or a message signature (Signature-Input, Signature, Content-Digest)')
    }
    if (principal.certificate?.state === 'pending' && !o.allowPending)
      throw new SlipwayError('forbidden', 'DEVICE_PENDING_APPROVAL', 'this device identity is a re-enrollment claim awaiting an operator approval', { deviceId: principal.deviceId })
    // (issue 10 §4) a quarantined device is refused on every route it could call
    if (principal.device.quarantinedAt) throw deviceQuarantined()
    return principal
  }

  async #byCertificate(pem: string, now: Date, via: 'mtls' | 'forwarded-certificate'): Promise<DevicePrincipal> {
    let serial: string
    try {
      serial = this.deps.ca.verify(pem, now).serial
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'CERT_EXPIRED') throw refuse('DEVICE_CERT_EXPIRED', 'the client certificate has expired (re-enroll the device)')
      throw refuse('DEVICE_CERT_UNTRUSTED', 'the client certificate is not issued by the device CA')
    }
    const found = await this.deps.certificates.findWithDevice(serial)
    if (!found) throw refuse('DEVICE_CERT_UNTRUSTED', 'the client certificate is unknown to this server')
    this.#checkCertificate(found.certificate, found.device, now)
    return principalOf(found.device, found.certificate, via)
  }

  async #bySignature(req: DeviceRequest, now: Date): Promise<DevicePrincipal> {
    let parsed: ReturnType<typeof parseSignatureHeaders>
    try {
      parsed = parseSignatureHeaders(req.headers.signatureInput ?? '', req.headers.signature ?? '')
    } catch (e) {
      if (e instanceof MessageSignatureError) throw refuse('DEVICE_SIGNATURE_MALFORMED', `message signature: ${e.message}`)
      throw e
    }
    const { params, signature } = parsed
    const skew = Math.abs(now.getTime() / 1000 - params.created)
    if (skew > SIGNATURE_WINDOW_SECONDS)
      throw refuse('DEVICE_SIGNATURE_STALE', `the signature was created ${Math.round(skew)} s away from the server clock (at most ${SIGNATURE_WINDOW_SECONDS} s)`, { created: params.created })
    const found = await this.deps.certificates.findWithDevice(params.keyid)
    if (!found) throw refuse('DEVICE_CERT_UNKNOWN', `no device certificate with serial ${params.keyid}`)
    const cert = found.certificate
    this.#checkCertificate(cert, found.device, now)
    // RFC 9530: the digest must be of exactly these bytes, so a signed header cannot carry another body
    const sent = digestOf(req.headers.contentDigest)
    if (sent === undefined) throw refuse('DEVICE_SIGNATURE_MALFORMED', 'Content-Digest (sha-256) is required with a message signature')
    // a digest is no secret: a plain comparison leaks nothing
    if (sent !== digestOf(contentDigest(req.body)))
      throw refuse('DEVICE_CONTENT_DIGEST_MISMATCH', 'Content-Digest does not match the body')
    const expectedAlg = cert.keyType === 'ed25519' ? 'ed25519' : 'ecdsa-p256-sha256'
    const base = Buffer.from(signatureBase({ method: req.method, target: req.target, contentDigest: req.headers.contentDigest! }, params), 'utf8')
    if (params.alg !== expectedAlg || !(await this.#verify(cert, base, signature)))
      throw refuse('DEVICE_SIGNATURE_INVALID', `the signature does not verify with the key of certificate ${cert.serial}`)
    // single use, on every replica: checked last so that only a valid signature spends its nonce
    if (!(await this.deps.nonces.claim(`${cert.serial}:${params.nonce}`, NONCE_TTL_SECONDS)))
      throw refuse('DEVICE_SIGNATURE_REPLAYED', 'this signature (nonce) was already used')
    return principalOf(found.device, cert, 'signature')
  }

  async #byBearer(token: string): Promise<DevicePrincipal> {
    if (!this.deps.bearerCompat)
      throw refuse('DEVICE_BEARER_DISABLED', 'bearer device credentials are no longer accepted: re-enroll the device with a key (or set SLIPWAY_DEVICE_BEARER_COMPAT for one release)')
    const hash = hashToken(token)
    const device = await this.deps.devices.findByCredentialHash(hash)
    if (!device || !timingSafeEqual(Buffer.from(device.credentialHash, 'hex'), Buffer.from(hash, 'hex'))) {
      // a revoked credential still names its device: quarantined says so, released must re-enroll
      const revoked = await this.deps.devices.findByCredentialHash(REVOKED_CREDENTIAL_PREFIX + hash)
      if (revoked?.quarantinedAt) throw deviceQuarantined()
      if (revoked) throw refuse('DEVICE_CREDENTIAL_REVOKED', 'the device credential was revoked: the device must enroll again')
      throw refuse('DEVICE_CREDENTIAL_INVALID', 'the device credential is not valid (re-enroll the device)')
    }
    return { kind: 'device', deviceId: device.id, role: 'device', device, via: 'bearer' }
  }

  #checkCertificate(cert: DeviceCertificate, device: DevicePollContext, now: Date): void {
    // quarantine revokes the certificates too: the device is told why, not just "revoked"
    if (device.quarantinedAt) throw deviceQuarantined()
    if (cert.state === 'revoked') throw refuse('DEVICE_CERT_REVOKED', `certificate ${cert.serial} is revoked`, { serial: cert.serial })
    if (cert.notAfter <= now.toISOString()) throw refuse('DEVICE_CERT_EXPIRED', `certificate ${cert.serial} expired at ${cert.notAfter} (re-enroll the device)`, { serial: cert.serial })
  }

  /** Verified on libuv's thread pool (crypto.verify with a callback), not on the event loop: a replica with spare cores verifies in parallel. */
  #verify(cert: DeviceCertificate, base: Buffer, signature: Buffer): Promise<boolean> {
    let key = this.#keys.get(cert.serial)
    if (!key) {
      key = importSpki(Buffer.from(cert.publicKey, 'base64'))
      if (this.#keys.size >= KEY_CACHE_MAX) this.#keys.clear()
      this.#keys.set(cert.serial, key) // a serial's key never changes
    }
    const k = key
    return new Promise((resolve) => {
      const done = (e: Error | null, ok: boolean) => resolve(!e && ok)
      try {
        if (cert.keyType === 'ed25519') cryptoVerify(null, base, k, signature, done)
        else cryptoVerify('sha256', base, { key: k, dsaEncoding: 'ieee-p1363' }, signature, done)
      } catch {
        resolve(false)
      }
    })
  }
}

const principalOf = (device: DevicePollContext, certificate: DeviceCertificate, via: DevicePrincipal['via']): DevicePrincipal => ({
  kind: 'device',
  deviceId: device.id,
  role: 'device',
  device,
  certificate,
  via,
})

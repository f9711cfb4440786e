/** Authentication hooks: API tokens (AuthService) and devices (DeviceAuthService: the one device decision). */
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { DEVICE_CREDENTIAL_PREFIX, type AuthService } from '../domain/auth/auth-service.js'
import { SlipwayError } from '../domain/errors.js'
import { DeviceAuthService, type DeviceAuthOptions, type DeviceRequest } from '../domain/trust/device-auth-service.js'
import type { DevicePrincipal, Principal, PrincipalRole, Role } from '../domain/model.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
}

export function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization
  if (!h) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
  return m ? m[1] : ''
}

/**
 * onRequest hook: 401 without a valid token, 403 when its role is not in `roles`. A
 * device proving itself with its key (no bearer token) gets the same 403 a device token
 * did: it is known to be a device, and devices have no role here.
 */
export function requireRole(auth: AuthService, roles: readonly PrincipalRole[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearer(request)
    if (token === undefined && DeviceAuthService.offersProof(deviceRequestOf(request)))
      throw new SlipwayError('forbidden', 'AUTH_FORBIDDEN', `a device key does not open this route: it needs one of the roles ${roles.join(', ')}`, { role: 'device' })
    const principal = await auth.authenticate(token)
    auth.authorize(principal, roles)
    request.principal = principal
  }
}

export const ALL_ROLES: readonly Role[] = ['admin', 'ci', 'operator', 'viewer']

/** Who may change the fleet (rollouts, devices, groups); `viewer` reads what they read. */
export const OPERATORS: readonly Role[] = ['operator', 'admin']

/** Who may read the operator views (audit log, enrollment tokens are not among them). */
export const WATCHERS: readonly Role[] = ['operator', 'admin', 'viewer']

/** The device that called (set by requireDevice). */
export function deviceOf(request: FastifyRequest): string {
  return devicePrincipalOf(request).deviceId
}

/** The device principal, with the device row authentication read. */
export function devicePrincipalOf(request: FastifyRequest): DevicePrincipal {
  const p = principalOf(request)
  if (p.kind !== 'device') throw new Error('route expects a device principal')
  return p
}

/** The principal an authenticated route runs as (set by requireRole). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is missing its requireRole hook')
  return request.principal
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the JSON body's bytes as received (Content-Digest of message signatures covers exactly these) */
    rawBody?: Buffer
  }
}

const one = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h.join(', ') : h)

/** The certificate this TLS connection's client presented, as PEM (undefined over plain HTTP or without one). */
function tlsClientCertificate(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket as TLSSocket
  if (!socket.encrypted || typeof socket.getPeerX509Certificate !== 'function') return undefined
  return socket.getPeerX509Certificate()?.toString()
}

/** What the one device-authentication decision needs from an HTTP request. */
export function deviceRequestOf(request: FastifyRequest): DeviceRequest {
  const h = request.headers
  return {
    method: request.method,
    target: request.raw.url ?? request.url,
    headers: {
      authorization: h.authorization,
      signatureInput: one(h['signature-input']),
      signature: one(h.signature),
      contentDigest: one(h['content-digest']),
      forwardedCert: one(h['x-client-cert']),
    },
    ...(request.rawBody ? { body: request.rawBody } : {}),
    tlsClientCertificate: tlsClientCertificate(request),
    peer: request.raw.socket.remoteAddress,
  }
}

/**
 * preValidation hook of device routes: the body is read (its digest is signed) and the
 * device proven before the body is validated. `allowPending`: the poll only.
 */
export function requireDevice(deviceAuth: DeviceAuthService, opts: DeviceAuthOptions = {}) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await deviceAuth.authenticate(deviceRequestOf(request), opts)
  }
}

/** A route for API tokens and devices alike (blob downloads): an API bearer token, else a device proof. */
export function requireRoleOrDevice(auth: AuthService, deviceAuth: DeviceAuthService, roles: readonly Role[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearer(request)
    if (token && !token.startsWith(DEVICE_CREDENTIAL_PREFIX)) {
      const principal = await auth.authenticate(token)
      auth.authorize(principal, roles)
      request.principal = principal
      return
    }
    request.principal = await deviceAuth.authenticate(deviceRequestOf(request))
  }
}

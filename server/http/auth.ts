/** Bearer-token authentication as a Fastify hook; the decision lives in AuthService. */
import type { FastifyRequest } from 'fastify'
import type { AuthService } from '../domain/auth-service.js'
import type { Principal, PrincipalRole, Role } from '../domain/model.js'

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

/** onRequest hook: 401 without a valid token, 403 when its role is not in `roles`. */
export function requireRole(auth: AuthService, roles: readonly PrincipalRole[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const principal = await auth.authenticate(bearer(request))
    auth.authorize(principal, roles)
    request.principal = principal
  }
}

export const ALL_ROLES: readonly Role[] = ['admin', 'ci', 'operator', 'viewer']

/** Who may change the fleet (rollouts, devices, groups); `viewer` reads what they read. */
export const OPERATORS: readonly Role[] = ['operator', 'admin']

/** Who may read the operator views (audit log, enrollment tokens are not among them). */
export const WATCHERS: readonly Role[] = ['operator', 'admin', 'viewer']

/** The device credential (`sld_…`) as the only accepted principal. */
export const DEVICE_ONLY: readonly PrincipalRole[] = ['device']

/** The device that called (set by requireRole(…, DEVICE_ONLY)). */
export function deviceOf(request: FastifyRequest): string {
  return devicePrincipalOf(request).deviceId
}

/** The device principal, with the device row authentication read. */
export function devicePrincipalOf(request: FastifyRequest): Extract<Principal, { kind: 'device' }> {
  const p = principalOf(request)
  if (p.kind !== 'device') throw new Error('route expects a device principal')
  return p
}

/** The principal an authenticated route runs as (set by requireRole). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is missing its requireRole hook')
  return request.principal
}

/**
 * API tokens: random 256-bit secrets shown once, stored only as sha256 hashes.
 * Lookup is by hash (an index seek); the final comparison is constant-time anyway so
 * that no code path compares secret material byte by byte.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { SlipwayError, type CodeOf } from '../errors.js'
import type { ApiToken, Principal, PrincipalRole, Role } from '../model.js'
import type { TokenRepository } from '../ports/repositories.js'

export const TOKEN_PREFIX = 'slw_'
/** bearer device credentials of old enrollments (SLIPWAY_DEVICE_BEARER_COMPAT only) */
export const DEVICE_CREDENTIAL_PREFIX = 'sld_'

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

const unauthenticated = (code: CodeOf<'unauthenticated'>, message: string) => new SlipwayError('unauthenticated', code, message)

export interface CreatedToken {
  /** the secret, shown once */
  token: string
  record: ApiToken
}

export class AuthService {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(role: Role, label: string, ttlSeconds?: number): Promise<CreatedToken> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    return { token, record: await this.store(token, role, label, ttlSeconds) }
  }

  private async store(token: string, role: Role, label: string, ttlSeconds?: number): Promise<ApiToken> {
    const now = this.now()
    const record: ApiToken = {
      id: randomUUID(),
      role,
      label,
      tokenHash: hashToken(token),
      createdAt: now.toISOString(),
      expiresAt: ttlSeconds === undefined ? null : new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      revokedAt: null,
    }
    await this.tokens.insert(record)
    return record
  }

  /**
   * Makes sure an admin can get in on first start: registers `configured`
   * (SLIPWAY_ADMIN_TOKEN) if given and unknown, else creates a token when no usable
   * admin token exists. Returns the secret only when it generated one.
   */
  async bootstrapAdmin(configured?: string): Promise<string | undefined> {
    if (configured !== undefined) {
      if (!(await this.tokens.findByHash(hashToken(configured)))) await this.store(configured, 'admin', 'bootstrap (SLIPWAY_ADMIN_TOKEN)')
      return undefined
    }
    if ((await this.tokens.countUsable('admin', this.now().toISOString())) > 0) return undefined
    return (await this.create('admin', 'bootstrap')).token
  }

  /** Resolves an API token to a principal, or throws a 401 with a specific code. Devices: trust/device-auth-service.ts. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw unauthenticated('AUTH_MISSING', 'an API token is required (Authorization: Bearer <token>)')
    const hash = hashToken(token)
    const found = await this.tokens.findByHash(hash)
    if (!found || !timingSafeEqual(Buffer.from(found.tokenHash, 'hex'), Buffer.from(hash, 'hex')))
      throw unauthenticated('AUTH_INVALID', 'the API token is not valid')
    if (found.revokedAt !== null) throw unauthenticated('AUTH_REVOKED', 'the API token was revoked')
    if (found.expiresAt !== null && found.expiresAt <= this.now().toISOString())
      throw unauthenticated('AUTH_EXPIRED', 'the API token has expired')
    return { kind: 'token', tokenId: found.id, role: found.role }
  }

  /** 403 when the caller is known but its role may not do this. */
  authorize(principal: Principal, allowed: readonly PrincipalRole[]): void {
    if (!allowed.includes(principal.role))
      throw new SlipwayError('forbidden', 'AUTH_FORBIDDEN', `this needs one of the roles: ${allowed.join(', ')}`, {
        role: principal.role,
      })
  }

  list(): Promise<ApiToken[]> {
    return this.tokens.list()
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.tokens.revoke(id, this.now().toISOString())))
      throw new SlipwayError('not-found', 'TOKEN_NOT_FOUND', `no unrevoked token with id ${id}`)
  }
}

/** Persistence ports. One adapter (Kysely) serves SQLite and PostgreSQL. */
import type { FleetRepositories } from './fleet/repositories.js'
import type { ApiToken, Release, StoredRoot } from './model.js'

export interface TokenRepository {
  insert(token: ApiToken): Promise<void>
  findByHash(tokenHash: string): Promise<ApiToken | undefined>
  list(): Promise<ApiToken[]>
  /** Marks a token revoked; false when no such unrevoked token exists. */
  revoke(id: string, at: string): Promise<boolean>
  /** Tokens of this role that are neither revoked nor expired at `now`. */
  countUsable(role: ApiToken['role'], now: string): Promise<number>
}

export interface ReleaseListQuery {
  name?: string
  limit: number
  /** id of the last release of the previous page */
  after?: string
}

export interface ReleaseRepository {
  /** 'duplicate' when a release with the same name and version exists. */
  insert(release: Release): Promise<'created' | 'duplicate'>
  findById(id: string): Promise<Release | undefined>
  findByNameVersion(name: string, version: string): Promise<Release | undefined>
  list(query: ReleaseListQuery): Promise<Release[]>
}

/** The published root chain: append-only, one row per root version. */
export interface RootRepository {
  /** 'duplicate' when this version is already stored. */
  insert(root: StoredRoot): Promise<'created' | 'duplicate'>
  find(version: number): Promise<StoredRoot | undefined>
  /** The highest version, or undefined before the first root is installed. */
  latest(): Promise<StoredRoot | undefined>
  /** Every version, oldest first: the chain a device walks. */
  list(): Promise<StoredRoot[]>
}

export interface Repositories {
  tokens: TokenRepository
  releases: ReleaseRepository
  roots: RootRepository
  /** devices, enrollment, rollouts, audit */
  fleet: FleetRepositories
  /** Throws DependencyUnavailable when the database cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}

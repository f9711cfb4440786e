/** Persistence ports. One adapter (Kysely) serves SQLite and PostgreSQL. */
import type { FleetRepositories } from './fleet-repositories.js'
import type { ApiToken, DeltaRecord, DeltaState, DeltaVariant, Release, StoredRoot } from '../model.js'

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
  deltas: DeltaRepository
  /** the S3 multipart ledger of uploads (scale-out uploads without a shared folder) */
  multipartUploads: MultipartUploadRepository
  /** Throws DependencyUnavailable when the database cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface DeltaListQuery {
  state?: DeltaState
  toReleaseId?: string
  limit: number
  /** id of the last delta of the previous page */
  after?: string
}

/** Fields a state change writes; everything else stays as it is. */
export type DeltaChanges = Partial<Omit<DeltaRecord, 'id' | 'fromReleaseId' | 'toReleaseId' | 'sourceSha256' | 'targetSha256' | 'targetLength' | 'createdAt'>>

export interface DeltaRepository {
  /** Inserts, or returns the row that already exists for the same (from, to) pair. */
  insertOrGet(delta: DeltaRecord): Promise<{ delta: DeltaRecord; created: boolean }>
  findById(id: string): Promise<DeltaRecord | undefined>
  findByReleases(fromReleaseId: string, toReleaseId: string): Promise<DeltaRecord | undefined>
  /** Every row for one (source image, target image) pair, oldest first. */
  listByContent(sourceSha256: string, targetSha256: string): Promise<DeltaRecord[]>
  /** Oldest first, keyset-paginated on (created_at, id). */
  list(query: DeltaListQuery): Promise<DeltaRecord[]>
  /**
   * Applies `changes` to the rows of one content pair whose state is in `from`
   * (a compare-and-set: replicas and workers race safely); returns the rows changed.
   */
  transition(content: { sourceSha256: string; targetSha256: string }, from: readonly DeltaState[], changes: DeltaChanges): Promise<number>
  /** The same compare-and-set on one row. */
  transitionOne(id: string, from: readonly DeltaState[], changes: DeltaChanges): Promise<boolean>
  /** Stores the other formats' patches of one content pair, replacing what a previous build stored. */
  replaceVariants(content: { sourceSha256: string; targetSha256: string }, variants: readonly DeltaVariant[]): Promise<void>
  /**
   * The other formats' patches of content pairs (none before a pair is built), each with
   * its pair, by pair then format: one query for a whole listing page or one device's poll.
   */
  variantsOf(contents: ReadonlyArray<{ sourceSha256: string; targetSha256: string }>): Promise<Array<DeltaVariant & { sourceSha256: string; targetSha256: string }>>
  /** Re-signed metadata of one variant. */
  updateVariantMetadata(content: { sourceSha256: string; targetSha256: string }, format: string, metadata: string, updatedAt: string): Promise<void>
  /** Rows per state, and Σ(target length − patch length) over ready deltas (for /metrics). */
  summary(): Promise<{ byState: Record<DeltaState, number>; savedBytes: number }>
}

/** An upload going straight to S3 multipart: what a PATCH on any replica needs to resume it. */
export interface MultipartUpload {
  id: string
  objectKey: string
  s3UploadId: string
  /** declared total length; undefined while deferred */
  size: number | undefined
  partSize: number
  /** bytes in completed parts */
  partsLength: number
  /** bytes after them, held in the tail object */
  tailLength: number
  metadata: Record<string, string | null>
  createdAt: string
  completedAt?: string
}

export interface MultipartPart {
  partNumber: number
  etag: string
  length: number
}

export interface MultipartUploadRepository {
  insert(u: MultipartUpload): Promise<void>
  find(id: string): Promise<MultipartUpload | undefined>
  parts(id: string): Promise<MultipartPart[]>
  /**
   * Record an uploaded part, advance partsLength by its length and set tailLength,
   * only if partsLength is still `fromLength` (a stale writer changes nothing); true if recorded.
   */
  addPart(id: string, part: MultipartPart, fromLength: number, tailLength: number): Promise<boolean>
  /** Set tailLength, only if partsLength is still `partsLength`. */
  setTail(id: string, partsLength: number, tailLength: number): Promise<boolean>
  declareSize(id: string, size: number): Promise<void>
  markCompleted(id: string, at: string): Promise<void>
  delete(id: string): Promise<void>
  createdBefore(at: string, limit: number): Promise<MultipartUpload[]>
}

/**
 * Ports: the only things the domain knows about the outside world. Adapters in
 * `server/adapters/*` implement them; `container.ts` picks one per port from config.
 * Nothing here imports a vendor library.
 */
import type { Readable } from 'node:stream'
import type { Assignment, Delta } from '../../../signing/verify/index.js'

// ---------------------------------------------------------------- blob store

export interface BlobInfo {
  /** lowercase hex sha256 of the content; also its address */
  sha256: string
  /** bytes */
  length: number
}

/** Inclusive byte range, as in RFC 7233 (`bytes=start-end`). */
export interface ByteRange {
  start: number
  end: number
}

/**
 * Content-addressed blob storage. A blob is visible under its final name only once
 * it is complete and verified: writers stage under a temporary name and commit
 * atomically (rename on a file system, a single PUT/copy on S3).
 */
export interface BlobStore {
  /** Create what the store needs (directories, bucket); idempotent, called once at start. */
  init(): Promise<void>
  /** Size of a stored blob, or undefined when absent. */
  stat(sha256: string): Promise<BlobInfo | undefined>
  /**
   * Stream `content` in, hashing while streaming; commit under its sha256 only if
   * it matches `expected` (when given). Throws BlobDigestMismatch and leaves nothing
   * behind otherwise. Idempotent: storing an existing blob again is a no-op.
   */
  put(content: Readable, expected?: Partial<BlobInfo>): Promise<BlobInfo>
  /**
   * Store a local file already verified by the caller to hash to `info`. The file
   * adapter may hard-link or rename instead of copying; the source path is left
   * as is or removed (`consume: true`).
   */
  putFile(path: string, info: BlobInfo, opts?: { consume?: boolean }): Promise<void>
  /** Read a blob, or an inclusive range of it. Throws BlobNotFound. */
  get(sha256: string, range?: ByteRange): Promise<Readable>
  /**
   * A short-lived URL a client can GET directly (S3); undefined when the store has none.
   * `issuedFor` (e.g. a device and its assignment counter) is signed into the URL, so
   * each assignment gets its own URL and the store's access log names who fetched.
   */
  presignedGetUrl(sha256: string, expirySeconds: number, issuedFor?: string): Promise<string | undefined>
  /**
   * Where the blob lies under the store's root folder (`sha256/ab/ab…`), for a web
   * server in front to send the file itself (X-Accel-Redirect); only stores on a file system have one.
   */
  relativePath?(sha256: string): string
  /** Remove a blob; a no-op when absent. */
  delete(sha256: string): Promise<void>
  /** Throws DependencyUnavailable when the store cannot be reached. */
  ping(): Promise<void>
}

// ---------------------------------------------------------------- job queue

export interface JobOptions {
  /** Deduplication key: while a job with this id is waiting, delayed or active, enqueueing it again is a no-op. */
  jobId?: string
  /** Total tries including the first (default 3). */
  attempts?: number
  /** Exponential backoff base: retry n waits backoffMs * 2^(n-1) milliseconds (default 1000). */
  backoffMs?: number
  /** Wait this long before the first try, in milliseconds. */
  delayMs?: number
  /**
   * Coalescing key, for work that must see every change (not with `jobId`): while a job
   * with this key waits, enqueueing again is a no-op; while one runs, exactly one more
   * run is queued to follow it. So what arrives after a run began is never folded into
   * that run (BullMQ deduplication with keepLastIfActive).
   */
  coalesce?: string
}

export interface Job<T = unknown> {
  id: string
  name: string
  data: T
  /** 1 on the first try */
  attempt: number
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'unknown'

export interface JobStatus {
  id: string
  name: string
  state: JobState
  attemptsMade: number
  failedReason?: string
  /** true when the last failure was permanent (no retries left by decision, not by count) */
  permanent?: boolean
}

export type JobHandler<T = unknown> = (job: Job<T>) => Promise<void>

/**
 * A durable job queue. Handlers throw to fail a try (retried with backoff up to
 * `attempts`), or throw PermanentJobError to fail at once with no further retries.
 */
export interface JobQueue {
  enqueue<T>(name: string, data: T, opts?: JobOptions): Promise<string>
  /** Register the handler for a job name; workers start processing on `start()`. */
  handle<T>(name: string, handler: JobHandler<T>, opts?: { concurrency?: number }): void
  /** Run `name` every `everyMs` milliseconds (one schedule per name across all processes). */
  every(name: string, everyMs: number, data?: unknown): Promise<void>
  /** Start processing the registered handlers in this process. */
  start(): Promise<void>
  status(jobId: string, name: string): Promise<JobStatus | undefined>
  /** Jobs not yet finished, per job name. */
  depth(): Promise<Record<string, { waiting: number; active: number; delayed: number; failed: number }>>
  ping(): Promise<void>
  /** Stop taking jobs, let active ones finish, release connections. */
  close(): Promise<void>
}

/** Thrown by a job handler to fail the job at once, without retries (BullMQ's UnrecoverableError). */
export class PermanentJobError extends Error {
  readonly permanent = true
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PermanentJobError'
  }
}

// ---------------------------------------------------------------- change bus

/** Called with each message published on a channel this process subscribed to, or with RESYNC. */
export type ChangeHandler = (message: string) => void

/** Delivered to every handler when notices may have been lost (the bus reconnected): anything may have changed. */
export const RESYNC = '*'

/**
 * Fire-and-forget notices between processes ("rollout X changed"), so every replica
 * drops what it cached at once. At most once: a notice can be lost (Redis restarting),
 * so whoever caches keeps a short expiry as the fallback; never the only source of truth.
 */
export interface ChangeBus {
  /** Deliver `message` to every subscriber of `channel` in every process, this one included. */
  publish(channel: string, message: string): Promise<void>
  /** Resolves once subscribed (later publishes reach `handler`); returns the unsubscribe. */
  subscribe(channel: string, handler: ChangeHandler): Promise<() => Promise<void>>
  close(): Promise<void>
}

// ---------------------------------------------------------------- online key

/**
 * The server's `online` key (DESIGN.md trust model): it signs device assignments and
 * delta metadata, nothing else. Adapters hold a file key (development) or a PKCS#11
 * key (HSM, TPM, KMS); the private key never passes through the domain.
 */
export interface OnlineSigner {
  /** TUF keyid; must be listed in the current root's `online` role */
  readonly keyId: string
  /** 'file' is for development: start-up warns loudly */
  readonly keyKind: 'file' | 'pkcs11'
  /** Wire bytes of delta metadata signed with the online key. */
  signDelta(delta: Delta, opts?: OnlineSignOptions): Promise<Buffer>
  /** Wire bytes of a device assignment signed with the online key. */
  signAssignment(assignment: Assignment, opts?: OnlineSignOptions): Promise<Buffer>
  close(): Promise<void>
}

export interface OnlineSignOptions {
  /** absolute expiry, `YYYY-MM-DDTHH:MM:SSZ`; default: the document's standard lifetime */
  expires?: string
}

// ---------------------------------------------------------------- deltas

/** A built, verified patch, already committed to the blob store under its sha256. */
export interface BuiltPatch {
  patchSha256: string
  /** bytes */
  patchLength: number
  /** the `format` string of its signed metadata (client-sdk/DELTA-FORMAT.md): one every applier takes */
  format: string
  /**
   * the same delta in formats only some appliers take (smaller: format 2 diffs inside
   * compressed members), each stored too: `format` is its offer format
   * (acceptedDeltaFormats), `metadataFormat` the format its signed metadata names
   */
  variants: Array<{ format: string; metadataFormat: string; patchSha256: string; patchLength: number }>
  /** the full target image compressed (the adapter says how): what the offer rule compares with */
  compressedTargetLength: number
  /** build wall time, milliseconds */
  ms: number
  /** peak resident set of the building process, bytes */
  peakRss: number
}

/**
 * Builds the patch between two stored images: fetches both blobs, builds and
 * verifies the patch in bounded memory, stores it, and cleans up its scratch files
 * whatever happens. Failures are DeltaBuildFailure with a stable code, marked
 * permanent when retrying cannot help (missing blob, hash mismatch, bad input).
 */
export interface PatchBuilder {
  build(input: { sourceSha256: string; targetSha256: string }, onProgress?: (builtBytes: number) => void): Promise<BuiltPatch>
}

/**
 * Which releases the fleet runs (the rollout issue owns devices): for devices of any
 * of these hardware types running a release named `name`, the most installed
 * releases, most devices first.
 */
export interface FleetVersions {
  topInstalled(name: string, hardware: string[], limit: number): Promise<Array<{ releaseId: string; devices: number }>>
}

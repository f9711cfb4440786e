/**
 * The scale-out JobQueue on BullMQ 6 / Redis. One BullMQ Queue per job name (created
 * on first use) and one Worker per registered handler (created by `start()`), so
 * each job name has its own concurrency and its own counts. Same rules as the
 * embedded queue (job-rules.ts), checked by the shared contract suite.
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq'
import type { JobsOptions, Job as BullJob } from 'bullmq'
import type { Job, JobHandler, JobOptions, JobQueue, JobState, JobStatus } from '../../domain/ports/infrastructure.js'
import { DependencyUnavailable, SlipwayError } from '../../domain/errors.js'
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  KEEP_COMPLETED,
  KEEP_FAILED,
  failureMessage,
  isPermanent,
  validateCoalesce,
  validateJobId,
} from './job-rules.js'
import { parseRedisUrl, withProbeClient } from './redis-connection.js'
import type { RedisConnectionOptions } from './redis-connection.js'

export interface BullMqQueueOptions {
  /** redis://[user[:password]@]host[:port][/db] */
  url: string
  /** Namespace of every Redis key this queue writes (default "slipway"). */
  prefix?: string
  /** Connection and worker errors (Redis down, lost locks); BullMQ reconnects by itself. Default: ignored, ping() reports outages. */
  onError?: (err: Error) => void
  /**
   * How long enqueue, every, status, depth and start wait for Redis before throwing
   * DependencyUnavailable, in milliseconds (default 5000). BullMQ itself waits for a
   * lost connection forever, which would hang an HTTP request.
   */
  timeoutMs?: number
}

type Depth = Record<string, { waiting: number; active: number; delayed: number; failed: number }>

export class BullMqQueue implements JobQueue {
  private readonly connection: RedisConnectionOptions
  private readonly prefix: string
  private readonly onError: (err: Error) => void
  private readonly timeoutMs: number
  private readonly queues = new Map<string, Queue>()
  private readonly handlers = new Map<string, { handler: JobHandler<unknown>; concurrency: number }>()
  private readonly workers = new Map<string, Worker>()
  private started = false
  private closed = false

  constructor(opts: BullMqQueueOptions) {
    this.connection = parseRedisUrl(opts.url)
    this.prefix = opts.prefix ?? 'slipway'
    this.onError = opts.onError ?? (() => undefined)
    this.timeoutMs = opts.timeoutMs ?? 5000
  }

  async enqueue<T>(name: string, data: T, opts: JobOptions = {}): Promise<string> {
    this.assertOpen()
    validateJobId(opts.jobId)
    validateCoalesce(opts)
    const queue = this.queue(name)
    if (opts.jobId !== undefined) await this.bounded(this.dropFinished(queue, opts.jobId))
    const job = await this.bounded(queue.add(name, data === undefined ? {} : data, {
      ...jobOptions(opts),
      ...(opts.jobId !== undefined && { jobId: opts.jobId }),
      ...(opts.delayMs !== undefined && opts.delayMs > 0 && { delay: opts.delayMs }),
      // atomic in BullMQ's add script: a no-op while the key's job waits, one follow-up while it runs
      ...(opts.coalesce !== undefined && { deduplication: { id: opts.coalesce, keepLastIfActive: true } }),
    }))
    return job.id as string
  }

  handle<T>(name: string, handler: JobHandler<T>, opts: { concurrency?: number } = {}): void {
    this.handlers.set(name, { handler: handler as JobHandler<unknown>, concurrency: Math.max(1, opts.concurrency ?? 1) })
    if (this.started) this.startWorker(name)
  }

  /** A BullMQ job scheduler: one per name in Redis, shared by every process; the first run is immediate. */
  async every(name: string, everyMs: number, data?: unknown): Promise<void> {
    this.assertOpen()
    const template = { name, data: data === undefined ? {} : data, opts: jobOptions({}) }
    await this.bounded(this.queue(name).upsertJobScheduler(name, { every: everyMs }, template))
  }

  async start(): Promise<void> {
    this.assertOpen()
    this.started = true
    for (const name of this.handlers.keys()) this.startWorker(name)
    await this.bounded(Promise.all([...this.workers.values()].map((w) => w.waitUntilReady())))
  }

  async status(jobId: string, name: string): Promise<JobStatus | undefined> {
    const job = await this.bounded(this.queue(name).getJob(jobId))
    if (!job) return undefined
    const state = toJobState(await this.bounded(job.getState()))
    return {
      id: jobId,
      name,
      state,
      attemptsMade: job.attemptsMade,
      ...(job.failedReason && { failedReason: job.failedReason }),
      // BullMQ keeps no flag for UnrecoverableError; its stack trace, saved per failed try, names it.
      ...(state === 'failed' && { permanent: job.stacktrace?.at(-1)?.startsWith('UnrecoverableError') === true }),
    }
  }

  /** Counts for every job name that has a queue under this prefix in Redis, not only those this process used. */
  async depth(): Promise<Depth> {
    const names = new Set([...this.queues.keys(), ...(await this.discoverNames())])
    const out: Depth = {}
    for (const name of [...names].sort()) {
      const c = await this.bounded(this.queue(name).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'))
      out[name] = {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
      }
    }
    return out
  }

  /** Throws DependencyUnavailable within about a second when Redis cannot be reached. */
  async ping(): Promise<void> {
    await withProbeClient(this.connection, async (client) => {
      await client.ping()
    })
  }

  /** Workers first (each waits for its active jobs), then the queues' connections. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.workers.values()].map((w) => w.close()))
    await Promise.all([...this.queues.values()].map((q) => q.close()))
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name)
    if (!queue) {
      queue = new Queue(name, { connection: { ...this.connection }, prefix: this.prefix })
      queue.on('error', (err) => this.onError(err))
      this.queues.set(name, queue)
    }
    return queue
  }

  private startWorker(name: string): void {
    const registered = this.handlers.get(name)
    if (!registered || this.workers.has(name)) return
    const { handler, concurrency } = registered
    const worker = new Worker(name, (job: BullJob) => runHandler(handler, job), {
      // Workers block on Redis: ioredis must not give up on their commands (BullMQ requires null).
      connection: { ...this.connection, maxRetriesPerRequest: null },
      prefix: this.prefix,
      concurrency,
    })
    worker.on('error', (err) => this.onError(err))
    this.workers.set(name, worker)
  }

  /**
   * BullMQ ignores an add whose id still has a job hash, finished or not; the port
   * (job-rules.ts) wants a finished job to run again. Not atomic with the add: two
   * racing enqueuers may both remove and add, which still leaves one pending job.
   */
  private async dropFinished(queue: Queue, jobId: string): Promise<void> {
    const state = await queue.getJobState(jobId)
    if (state !== 'completed' && state !== 'failed') return
    try {
      await queue.remove(jobId)
    } catch {
      // It was re-enqueued and picked up meanwhile (locked): the add below dedups against it.
    }
  }

  /** Job names with a queue under this prefix: BullMQ writes `<prefix>:<name>:meta` for each. */
  private async discoverNames(): Promise<string[]> {
    const head = `${this.prefix}:`
    const pattern = `${head.replace(/[*?[\]\\]/g, '\\$&')}*:meta`
    const keys = await withProbeClient(this.connection, async (client) => {
      const found: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        found.push(...batch)
      } while (cursor !== '0')
      return found
    })
    return keys.map((key) => key.slice(head.length, -':meta'.length)).filter((name) => name.length > 0)
  }

  /** Wait for a Redis operation at most timeoutMs; an outage becomes DependencyUnavailable. */
  private async bounded<R>(operation: Promise<R>): Promise<R> {
    const timedOut = new Error(`Redis did not answer within ${this.timeoutMs} ms`)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut), this.timeoutMs)
    })
    // After a timeout the operation may still settle (e.g. on reconnect); its late failure is nobody's to handle.
    operation.catch(() => undefined)
    try {
      return await Promise.race([operation, timeout])
    } catch (err) {
      if (err === timedOut || isConnectionFailure(err)) throw new DependencyUnavailable('job queue (redis)', err)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SlipwayError('internal', 'QUEUE_CLOSED', 'the job queue is closed')
  }
}

/** Retry and retention settings both for enqueued jobs and for scheduler templates. */
function jobOptions(opts: JobOptions): JobsOptions {
  return {
    attempts: Math.max(1, opts.attempts ?? DEFAULT_ATTEMPTS),
    backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULT_BACKOFF_MS },
    removeOnComplete: { count: KEEP_COMPLETED },
    removeOnFail: { count: KEEP_FAILED },
  }
}

/** Translate the port's handler contract into BullMQ's processor contract. */
async function runHandler(handler: JobHandler<unknown>, job: BullJob): Promise<void> {
  // attemptsMade counts finished tries, so this try is one more.
  const view: Job<unknown> = { id: job.id as string, name: job.name, data: job.data, attempt: job.attemptsMade + 1 }
  try {
    await handler(view)
  } catch (err) {
    if (isPermanent(err)) throw new UnrecoverableError(failureMessage(err))
    throw err instanceof Error ? err : new Error(failureMessage(err))
  }
}

/** ioredis's ways of saying the connection is gone, as opposed to a bug in a command. */
function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as NodeJS.ErrnoException).code
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.message === 'Connection is closed.' ||
    (code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code))
  )
}

function toJobState(state: string): JobState {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting'
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state
    default:
      return 'unknown'
  }
}

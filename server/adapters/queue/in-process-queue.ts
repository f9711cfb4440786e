/**
 * The embedded JobQueue: jobs live in this process's memory only (lost on exit), for
 * the one-process deployment. It follows BullMQ's rules (attempts, exponential
 * backoff, delay, jobId dedup, permanent failure, per-handler concurrency,
 * retention of finished jobs) so services behave the same on either adapter; the
 * shared contract suite in test/server/queue.contract.ts holds both to that.
 */
import type { Job, JobHandler, JobOptions, JobQueue, JobState, JobStatus } from '../../domain/ports/infrastructure.js'
import { SlipwayError } from '../../domain/errors.js'
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  KEEP_COMPLETED,
  KEEP_FAILED,
  backoffDelay,
  failureMessage,
  isPermanent,
  validateCoalesce,
  validateJobId,
} from './job-rules.js'

interface JobRecord {
  id: string
  name: string
  data: unknown
  attempts: number
  backoffMs: number
  state: JobState
  /** tries finished so far (failed or completed), as BullMQ's attemptsMade */
  attemptsMade: number
  failedReason?: string
  permanent?: boolean
  /** pending delay or backoff */
  timer?: NodeJS.Timeout
  /** JobOptions.coalesce of this job */
  coalesce?: string
  /** asked for again while it ran: enqueue this once it finishes */
  followUp?: { data: unknown; opts: JobOptions }
}

/** Everything about one job name: BullMQ's one queue per name. */
interface Lane {
  jobs: Map<string, JobRecord>
  /** ids in FIFO order */
  waiting: string[]
  active: number
  /** finished ids, oldest first, for retention */
  completed: string[]
  failed: string[]
  handler?: JobHandler<unknown>
  concurrency: number
  /** BullMQ numbers jobs without a custom id per queue: "1", "2", … */
  counter: number
  /** coalescing key → id of its unfinished job */
  coalesced: Map<string, string>
}

export class InProcessQueue implements JobQueue {
  private readonly lanes = new Map<string, Lane>()
  private readonly schedules = new Map<string, NodeJS.Timeout>()
  private readonly running = new Set<Promise<void>>()
  private started = false
  private closed = false

  async enqueue<T>(name: string, data: T, opts: JobOptions = {}): Promise<string> {
    this.assertOpen()
    validateJobId(opts.jobId)
    validateCoalesce(opts)
    const lane = this.lane(name)
    if (opts.coalesce !== undefined) {
      const current = lane.jobs.get(lane.coalesced.get(opts.coalesce) ?? '')
      if (current && current.state === 'active') {
        // the running job may already have read what this enqueue is about: run once more after it
        current.followUp = { data, opts }
        return current.id
      }
      if (current && !isFinished(current.state)) return current.id
    }
    if (opts.jobId !== undefined) {
      const existing = lane.jobs.get(opts.jobId)
      if (existing && !isFinished(existing.state)) return existing.id
      if (existing) this.forget(lane, existing)
    }
    lane.counter += 1
    const record: JobRecord = {
      id: opts.jobId ?? String(lane.counter),
      name,
      // BullMQ stores data as JSON: the handler gets a copy, and undefined becomes {}.
      data: data === undefined ? {} : JSON.parse(JSON.stringify(data)),
      attempts: Math.max(1, opts.attempts ?? DEFAULT_ATTEMPTS),
      backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS,
      state: 'waiting',
      attemptsMade: 0,
      ...(opts.coalesce !== undefined && { coalesce: opts.coalesce }),
    }
    lane.jobs.set(record.id, record)
    if (opts.coalesce !== undefined) lane.coalesced.set(opts.coalesce, record.id)
    if (opts.delayMs !== undefined && opts.delayMs > 0) this.delay(lane, record, opts.delayMs)
    else this.makeWaiting(lane, record)
    return record.id
  }

  handle<T>(name: string, handler: JobHandler<T>, opts: { concurrency?: number } = {}): void {
    const lane = this.lane(name)
    lane.handler = handler as JobHandler<unknown>
    lane.concurrency = Math.max(1, opts.concurrency ?? 1)
    if (this.started) this.pump(lane)
  }

  /**
   * Like a BullMQ job scheduler with `every`: the first run is enqueued at once, then
   * one per interval; a tick is skipped while the previous tick's job is still
   * waiting or delayed (BullMQ only creates the next iteration when the previous one
   * starts), so a name without a handler does not pile up jobs. Calling it again for
   * the same name replaces the schedule.
   */
  async every(name: string, everyMs: number, data?: unknown): Promise<void> {
    this.assertOpen()
    const previous = this.schedules.get(name)
    if (previous) clearInterval(previous)
    let lastId: string | undefined
    const tick = (): void => {
      const last = lastId === undefined ? undefined : this.lanes.get(name)?.jobs.get(lastId)
      if (last && (last.state === 'waiting' || last.state === 'delayed')) return
      void this.enqueue(name, data).then((id) => (lastId = id), () => undefined)
    }
    tick()
    const timer = setInterval(tick, everyMs)
    // The schedule alone must not keep the process alive; close() stops it anyway.
    timer.unref()
    this.schedules.set(name, timer)
  }

  async start(): Promise<void> {
    this.assertOpen()
    this.started = true
    for (const lane of this.lanes.values()) this.pump(lane)
  }

  async status(jobId: string, name: string): Promise<JobStatus | undefined> {
    const job = this.lanes.get(name)?.jobs.get(jobId)
    if (!job) return undefined
    return {
      id: job.id,
      name: job.name,
      state: job.state,
      attemptsMade: job.attemptsMade,
      ...(job.failedReason !== undefined && { failedReason: job.failedReason }),
      ...(job.state === 'failed' && { permanent: job.permanent === true }),
    }
  }

  async depth(): Promise<Record<string, { waiting: number; active: number; delayed: number; failed: number }>> {
    const out: Record<string, { waiting: number; active: number; delayed: number; failed: number }> = {}
    for (const [name, lane] of this.lanes) {
      let delayed = 0
      for (const job of lane.jobs.values()) if (job.state === 'delayed') delayed += 1
      out[name] = { waiting: lane.waiting.length, active: lane.active, delayed, failed: lane.failed.length }
    }
    return out
  }

  async ping(): Promise<void> {}

  /** Stops schedules and pending delays (memory is all there is), then waits for active jobs. */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.schedules.values()) clearInterval(timer)
    this.schedules.clear()
    for (const lane of this.lanes.values()) for (const job of lane.jobs.values()) clearTimeout(job.timer)
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name)
    if (!lane) {
      lane = { jobs: new Map(), waiting: [], active: 0, completed: [], failed: [], concurrency: 1, counter: 0, coalesced: new Map() }
      this.lanes.set(name, lane)
    }
    return lane
  }

  private delay(lane: Lane, job: JobRecord, ms: number): void {
    job.state = 'delayed'
    if (this.closed) return
    job.timer = setTimeout(() => {
      job.timer = undefined
      this.makeWaiting(lane, job)
    }, ms)
  }

  private makeWaiting(lane: Lane, job: JobRecord): void {
    job.state = 'waiting'
    lane.waiting.push(job.id)
    this.pump(lane)
  }

  /** Start as many waiting jobs as the handler's concurrency allows. */
  private pump(lane: Lane): void {
    const handler = lane.handler
    if (!this.started || this.closed || !handler) return
    while (lane.active < lane.concurrency && lane.waiting.length > 0) {
      const job = lane.jobs.get(lane.waiting.shift() as string)
      if (!job || job.state !== 'waiting') continue
      const run = this.run(lane, job, handler)
      this.running.add(run)
      void run.finally(() => this.running.delete(run))
    }
  }

  private async run(lane: Lane, job: JobRecord, handler: JobHandler<unknown>): Promise<void> {
    job.state = 'active'
    lane.active += 1
    const view: Job<unknown> = { id: job.id, name: job.name, data: job.data, attempt: job.attemptsMade + 1 }
    try {
      await handler(view)
      job.attemptsMade += 1
      this.finish(lane, job, 'completed')
    } catch (err) {
      job.attemptsMade += 1
      job.failedReason = failureMessage(err)
      if (isPermanent(err)) {
        job.permanent = true
        this.finish(lane, job, 'failed')
      } else if (job.attemptsMade < job.attempts) {
        this.delay(lane, job, backoffDelay(job.backoffMs, job.attemptsMade))
      } else {
        this.finish(lane, job, 'failed')
      }
    } finally {
      lane.active -= 1
      this.pump(lane)
    }
  }

  private finish(lane: Lane, job: JobRecord, state: 'completed' | 'failed'): void {
    job.state = state
    const list = state === 'completed' ? lane.completed : lane.failed
    list.push(job.id)
    const keep = state === 'completed' ? KEEP_COMPLETED : KEEP_FAILED
    while (list.length > keep) lane.jobs.delete(list.shift() as string)
    if (job.coalesce !== undefined && lane.coalesced.get(job.coalesce) === job.id) lane.coalesced.delete(job.coalesce)
    const next = job.followUp
    job.followUp = undefined
    if (next && !this.closed) void this.enqueue(job.name, next.data, next.opts).catch(() => undefined)
  }

  /** Drop a finished record so its id can be enqueued again (see job-rules.ts). */
  private forget(lane: Lane, job: JobRecord): void {
    const list = job.state === 'completed' ? lane.completed : lane.failed
    const at = list.indexOf(job.id)
    if (at >= 0) list.splice(at, 1)
    lane.jobs.delete(job.id)
  }

  private assertOpen(): void {
    if (this.closed) throw new SlipwayError('internal', 'QUEUE_CLOSED', 'the job queue is closed')
  }
}

function isFinished(state: JobState): boolean {
  return state === 'completed' || state === 'failed'
}

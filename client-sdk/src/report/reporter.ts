/**
 * Reports every state change to the server through the outbox: `report()` queues
 * durably and tries to flush; `flush()` sends in `seq` order, events in batches
 * of ≤ 100 (DEVICE-API.md), health reports one by one. A 4xx other than 401/403
 * means retrying cannot help: the report is dropped and logged (a rejected batch
 * is retried one by one so one bad event does not take the others with it).
 * 5xx, network errors and a refused credential leave the queue as it is.
 */
import { AgentError } from '../errors.js'
import type { Log } from '../log.js'
import type { DeviceApi, DeviceEvent } from '../net/device-api.js'
import type { Outbox, QueuedReport, Unsequenced } from './outbox.js'

const BATCH = 100

export interface FlushResult {
  sent: number
  dropped: number
  /** reports still queued (the server or network failed) */
  left: number
}

export class Reporter {
  #flushing: Promise<FlushResult> | undefined

  constructor(
    private readonly outbox: Outbox,
    private readonly api: DeviceApi,
    private readonly log: Log,
  ) {}

  /** Queue a report durably, then try to send everything queued (never throws on a send failure). */
  async report(r: Unsequenced): Promise<void> {
    await this.outbox.add(r)
    await this.flush()
  }

  /** Send queued reports in order; one flush at a time. */
  flush(): Promise<FlushResult> {
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined))
    return this.#flushing
  }

  async #flush(): Promise<FlushResult> {
    const queue = await this.outbox.list()
    let sent = 0
    let dropped = 0
    for (let i = 0; i < queue.length; ) {
      const head = queue[i] as QueuedReport
      const group = head.report.kind === 'event' ? takeEvents(queue, i) : [head]
      const outcome = await this.#send(group)
      if (outcome === 'stop') return { sent, dropped, left: queue.length - i }
      if (outcome === 'rejected' && group.length > 1) {
        // all-or-nothing batch: find the bad ones singly
        for (const one of group) {
          const o = await this.#send([one])
          if (o === 'stop') return { sent, dropped, left: queue.length - i }
          await this.#done([one], o)
          if (o === 'sent') sent++
          else dropped++
          i++
        }
        continue
      }
      await this.#done(group, outcome)
      if (outcome === 'sent') sent += group.length
      else dropped += group.length
      i += group.length
    }
    return { sent, dropped, left: 0 }
  }

  async #done(group: QueuedReport[], outcome: 'sent' | 'rejected'): Promise<void> {
    if (outcome === 'rejected')
      for (const q of group) this.log('warn', 'server rejected a report; dropped', { id: q.report.body.id, seq: q.report.body.seq, kind: q.report.kind })
    await this.outbox.remove(group)
  }

  async #send(group: QueuedReport[]): Promise<'sent' | 'rejected' | 'stop'> {
    try {
      const first = group[0] as QueuedReport
      if (first.report.kind === 'health') await this.api.health(first.report.body)
      else if (first.report.kind === 'security') await this.api.security(first.report.body)
      else await this.api.events(group.map((q) => q.report.body as DeviceEvent))
      return 'sent'
    } catch (e) {
      if (e instanceof AgentError && e.code === 'SERVER_REJECTED') {
        this.log('warn', 'report rejected', { code: e.code, message: e.message })
        return 'rejected'
      }
      this.log('info', 'reports stay queued', { code: (e as AgentError).code, message: (e as Error).message })
      return 'stop'
    }
  }
}

function takeEvents(queue: QueuedReport[], from: number): QueuedReport[] {
  const out: QueuedReport[] = []
  for (let i = from; i < queue.length && out.length < BATCH; i++) {
    const q = queue[i] as QueuedReport
    if (q.report.kind !== 'event') break
    out.push(q)
  }
  return out
}

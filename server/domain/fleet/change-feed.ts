/**
 * What the console's Server-Sent Events listen to: "something about this topic changed".
 * A small port so that the source can be swapped (a change bus over Redis pub/sub, say)
 * without touching the SSE route. The implementation here polls one cheap "mark" query
 * per topic, shared by every connection watching it, so it works on any replica and
 * with any database: a report written through replica A shows on a page served by B
 * within one poll interval.
 */
export type Topic = `rollout:${string}` | 'fleet'

export interface ChangeFeed {
  /** Calls `onChange` after each change of `topic` until the returned function is called. */
  watch(topic: Topic, onChange: () => void): () => void
  close(): void
}

/** A value that changes whenever the topic changes (versions, counts, newest timestamps). */
export type MarkOf = (topic: Topic) => Promise<string>

export class PollingChangeFeed implements ChangeFeed {
  private readonly topics = new Map<Topic, { listeners: Set<() => void>; mark?: string; timer: NodeJS.Timeout; busy: boolean }>()

  constructor(
    private readonly markOf: MarkOf,
    /** how often each watched topic is polled, ms (the console promises updates within 1 s) */
    private readonly intervalMs = 250,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  watch(topic: Topic, onChange: () => void): () => void {
    let t = this.topics.get(topic)
    if (!t) {
      const entry = { listeners: new Set<() => void>(), mark: undefined as string | undefined, busy: false, timer: setInterval(() => void this.poll(topic), this.intervalMs) }
      entry.timer.unref()
      this.topics.set(topic, entry)
      t = entry
      void this.poll(topic)
    }
    t.listeners.add(onChange)
    return () => {
      const e = this.topics.get(topic)
      if (!e) return
      e.listeners.delete(onChange)
      if (!e.listeners.size) {
        clearInterval(e.timer)
        this.topics.delete(topic)
      }
    }
  }

  private async poll(topic: Topic): Promise<void> {
    const t = this.topics.get(topic)
    if (!t || t.busy) return
    t.busy = true
    try {
      const mark = await this.markOf(topic)
      const changed = t.mark !== undefined && mark !== t.mark
      t.mark = mark
      if (changed) for (const l of [...t.listeners]) l()
    } catch (e) {
      this.onError(e)
    } finally {
      t.busy = false
    }
  }

  close(): void {
    for (const t of this.topics.values()) clearInterval(t.timer)
    this.topics.clear()
  }
}

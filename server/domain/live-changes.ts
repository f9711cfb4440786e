/**
 * What the console's live pages (Server-Sent Events) listen to: "something about this
 * topic changed, refetch". Whoever commits a change announces its topics on the
 * ChangeBus (`announceOn`), so every replica hears a change made through any other (or
 * by a worker) at once; each replica's `LiveTopics` fans the notices out to the pages
 * it serves, coalesced so that a burst of 200 reports is a handful of refetches, not 200.
 * At most once, like the bus: a lost notice leaves a page stale until the next one
 * (and the page refetches whenever its stream reconnects).
 */
import type { ChangeBus } from './ports/infrastructure.js'

export type Topic = `rollout:${string}` | 'fleet'

/** Tell every replica these topics changed (fire and forget). */
export type Announce = (topics: readonly Topic[]) => void

export const LIVE_CHANNEL = 'console-changes'

export const rolloutTopic = (id: string): Topic => `rollout:${id}`

/** The announcer over `bus`: one message, topics separated by spaces. */
export function announceOn(bus: ChangeBus): Announce {
  return (topics) => {
    if (topics.length) bus.publish(LIVE_CHANNEL, topics.join(' ')).catch(() => undefined)
  }
}

export const announceNothing: Announce = () => {}

/** Resolves as `work` (a transaction) does, and announces `topics` once it committed. */
export async function announcedAfter<T>(work: Promise<T>, announce: Announce, topics: readonly Topic[] = ['fleet']): Promise<T> {
  const out = await work
  announce(topics)
  return out
}

interface Watched {
  listeners: Set<() => void>
  lastFiredAt: number
  timer?: NodeJS.Timeout
}

export class LiveTopics {
  private readonly topics = new Map<Topic, Watched>()
  private unsubscribe: (() => Promise<void>) | undefined

  constructor(
    private readonly bus: ChangeBus,
    /** the least time between two notices of a rollout's topic to one replica's pages, ms (a burst ends with one more) */
    private readonly coalesceMs = 200,
    /** the same for `fleet`, which every report touches: its pages (overview, lists, audit) are the heavier ones to refetch */
    private readonly fleetCoalesceMs = 1000,
  ) {}

  /** Subscribes to the bus; resolves once later announcements reach this replica. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(LIVE_CHANNEL, (message) => {
      for (const topic of message.split(' ')) this.heard(topic as Topic)
    })
  }

  /** Calls `onChange` after changes of `topic` until the returned function is called. */
  watch(topic: Topic, onChange: () => void): () => void {
    let w = this.topics.get(topic)
    if (!w) this.topics.set(topic, (w = { listeners: new Set(), lastFiredAt: 0 }))
    // a wrapper, so one function watching twice is two watches
    const entry = () => onChange()
    w.listeners.add(entry)
    return () => {
      const cur = this.topics.get(topic)
      if (!cur) return
      cur.listeners.delete(entry)
      if (!cur.listeners.size) {
        clearTimeout(cur.timer)
        this.topics.delete(topic)
      }
    }
  }

  private heard(topic: Topic): void {
    const w = this.topics.get(topic)
    if (!w || w.timer) return
    const wait = w.lastFiredAt + (topic === 'fleet' ? this.fleetCoalesceMs : this.coalesceMs) - Date.now()
    if (wait <= 0) return this.fire(w)
    w.timer = setTimeout(() => {
      w.timer = undefined
      this.fire(w)
    }, wait)
    w.timer.unref()
  }

  private fire(w: Watched): void {
    w.lastFiredAt = Date.now()
    for (const l of [...w.listeners]) {
      try {
        l()
      } catch {
        // one broken stream must not starve the others
      }
    }
  }

  async close(): Promise<void> {
    for (const w of this.topics.values()) clearTimeout(w.timer)
    this.topics.clear()
    await this.unsubscribe?.()
  }
}

/** The embedded ChangeBus: one process, so publishing is calling the handlers (on a later tick, like Redis). */
import type { ChangeBus, ChangeHandler } from '../../domain/ports/infrastructure.js'

export class InProcessChangeBus implements ChangeBus {
  private readonly channels = new Map<string, Set<ChangeHandler>>()

  async publish(channel: string, message: string): Promise<void> {
    for (const handler of [...(this.channels.get(channel) ?? [])]) queueMicrotask(() => deliver(handler, message))
  }

  async subscribe(channel: string, handler: ChangeHandler): Promise<() => Promise<void>> {
    let set = this.channels.get(channel)
    if (!set) this.channels.set(channel, (set = new Set()))
    // a wrapper, so the same function subscribed twice gets both deliveries, as on Redis
    const entry: ChangeHandler = (m) => handler(m)
    set.add(entry)
    return async () => void set.delete(entry)
  }

  async close(): Promise<void> {
    this.channels.clear()
  }
}

/** A subscriber's bug must not break the publisher (a transition already committed). */
export function deliver(handler: ChangeHandler, message: string): void {
  try {
    handler(message)
  } catch {
    // the cache expiry still bounds how stale the subscriber can be
  }
}

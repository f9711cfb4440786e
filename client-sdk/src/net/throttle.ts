/** A bandwidth cap: after each chunk, sleep until the average rate is back under `bytesPerSecond`. */
import { setTimeout as sleep } from 'node:timers/promises'

export class Throttle {
  #started = 0
  #bytes = 0

  constructor(readonly bytesPerSecond: number | undefined) {}

  async take(n: number): Promise<void> {
    if (!this.bytesPerSecond) return
    if (this.#bytes === 0) this.#started = Date.now()
    this.#bytes += n
    const due = this.#started + (this.#bytes / this.bytesPerSecond) * 1000
    const wait = due - Date.now()
    if (wait > 1) await sleep(wait)
  }
}

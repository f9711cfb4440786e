/**
 * The demo's simulated devices: each speaks the device API directly (poll, events,
 * health; test/helpers/fleet-sim.ts), on its own loop with a jittered poll interval,
 * as a real fleet does. A fragile device fails its health check on the broken build.
 */
import { SimDevice, type Behaviour } from '../test/helpers/fleet-sim.js'
import { sleep } from './agent-device.js'

export class SimFleet {
  private stopped = false
  private loops: Array<Promise<void>> = []

  constructor(
    readonly devices: SimDevice[],
    /** device ids that fail health on the broken build */
    private readonly fragile: ReadonlySet<string>,
    private readonly brokenVersion: string,
  ) {}

  /** What a device does with its newest assignment. */
  private decide = (d: SimDevice): Behaviour => (this.fragile.has(d.deviceId) && d.received.at(-1)?.version === this.brokenVersion ? 'fail-health' : 'healthy')

  start(server: { url: string }, pollIntervalSeconds: number, onError: (e: unknown) => void): void {
    this.loops = this.devices.map(async (d) => {
      // spread the first polls over one interval, as devices booted at different times
      await sleep(Math.random() * pollIntervalSeconds * 1000, () => this.stopped)
      while (!this.stopped) {
        try {
          await d.step(server, this.decide)
        } catch (e) {
          if (!this.stopped) onError(e)
        }
        await sleep(pollIntervalSeconds * 1000 * (0.75 + Math.random() * 0.5), () => this.stopped)
      }
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.loops)
  }
}

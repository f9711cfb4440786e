import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * A full GC on demand. Applying streams hundreds of MB through short-lived buffers (brotli
 * output, patch chunks); V8 only collects them after ~64 MB of external growth, which
 * alone would break the device's 64 MB budget. Collecting every few tens of MB costs
 * milliseconds each and keeps RSS flat. Exposing `gc` this way is the documented V8 flag
 * set at runtime; it is only done once and only if the agent did not start with it.
 */
let gc: (() => void) | undefined

export function collectGarbage(): void {
  if (!gc) {
    const g = (globalThis as { gc?: () => void }).gc
    if (g) gc = g
    else {
      setFlagsFromString('--expose-gc')
      gc = runInNewContext('gc') as () => void
    }
  }
  gc()
}

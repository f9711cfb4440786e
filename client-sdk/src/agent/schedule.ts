/** When to poll next: the server's interval ± jitter; after errors an exponential backoff (also jittered, so a fleet that lost the server does not return in lockstep). */
export interface ScheduleConfig {
  pollIntervalSeconds: number
  jitter: number
  backoffInitialSeconds: number
  backoffMaxSeconds: number
}

export function jittered(seconds: number, jitter: number, random = Math.random): number {
  return Math.max(0, seconds * (1 + jitter * (2 * random() - 1)))
}

export function nextDelaySeconds(c: ScheduleConfig, consecutiveErrors: number, serverInterval?: number, random = Math.random): number {
  if (consecutiveErrors > 0) {
    const backoff = Math.min(c.backoffMaxSeconds, c.backoffInitialSeconds * 2 ** (consecutiveErrors - 1))
    return jittered(backoff, c.jitter, random)
  }
  return jittered(serverInterval ?? c.pollIntervalSeconds, c.jitter, random)
}

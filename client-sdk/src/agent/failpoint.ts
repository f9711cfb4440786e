/**
 * Crash injection for the kill-at-every-step test: when SLIPWAY_AGENT_FAILPOINT
 * names this point, the agent SIGKILLs itself right there: the same as a power
 * cut, with no chance to clean up. Unset in production (one env lookup).
 * `SLIPWAY_AGENT_FAILPOINT=checkpoint:3` kills at the third hit of `checkpoint`.
 */
const spec = process.env.SLIPWAY_AGENT_FAILPOINT
const [name, nth] = spec ? spec.split(':') : []
let hits = 0

export function failpoint(point: string): void {
  if (!spec || point !== name) return
  hits++
  if (hits >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL')
}

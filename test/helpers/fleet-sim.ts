/**
 * A simulated fleet over real HTTP: each device polls, and on an assignment walks the
 * agent's states (downloading → installing → rebooting → health-checking), sends a
 * health report after its "reboot", then succeeded or rolled-back, as the device API
 * says. Behaviours: healthy, failing health after reboot, silent after download, and
 * chaotic (every report twice, in reverse order).
 */
import { randomUUID } from 'node:crypto'
import type { DeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'
import type { PublishedRelease } from './fleet.js'

export type Behaviour = 'healthy' | 'fail-health' | 'silent' | 'chaotic'

export interface SimServer {
  url: string
}

/** What a simulated device signs with (an EnrolledDevice has both). */
export interface SimIdentity {
  key: DeviceKey
  serial: string
}

/** A signed device request (Ed25519 keys: signing and verifying cost tens of microseconds). */
async function req(srv: SimServer, dev: SimIdentity, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const bytes = body === undefined ? undefined : JSON.stringify(body)
  const signed = await signRequest(dev.key, dev.serial, { method, target: path, body: bytes })
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { ...signed, ...(bytes !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(bytes !== undefined && { body: bytes }),
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined, etag: res.headers.get('etag') }
}

export class SimDevice {
  seq = 0
  etag: string | undefined
  lastCounter = 0
  /** release name → version */
  readonly runs = new Map<string, string>()
  readonly received: Array<{ counter: number; action: string; version: string; rolloutId: string }> = []
  silentFor = new Set<number>()

  constructor(
    readonly deviceId: string,
    readonly identity: SimIdentity,
    public behaviour: Behaviour,
    installed: PublishedRelease | undefined,
  ) {
    if (installed) this.runs.set(installed.name, installed.version)
  }

  /** One poll, and the whole install if it got a new assignment. */
  async step(srv: SimServer, decide: (d: SimDevice) => Behaviour = (d) => d.behaviour): Promise<'idle' | 'installed' | 'failed' | 'silent' | 'unchanged'> {
    const poll = await req(srv, this.identity, 'GET', '/v1/device/update', undefined, this.etag ? { 'if-none-match': this.etag } : {})
    if (poll.status === 204) return 'idle'
    if (poll.status === 304) return 'unchanged'
    if (poll.status !== 200) throw new Error(`poll ${poll.status}: ${JSON.stringify(poll.json)}`)
    const a = poll.json.assignment.signed
    this.etag = poll.etag ?? undefined
    if (a.counter <= this.lastCounter) return 'unchanged'
    this.lastCounter = a.counter
    const { name, version } = a.release
    this.received.push({ counter: a.counter, action: poll.json.action, version, rolloutId: a.rolloutId })
    const behaviour = poll.json.action === 'rollback' ? 'healthy' : decide(this)
    const rel = { name, version }
    const ev = (state: string, reason?: { code: string; message: string }) => ({ id: randomUUID(), seq: ++this.seq, rolloutId: a.rolloutId, release: rel, state, ...(reason && { reason }) })
    const send = async (events: unknown[]) => {
      const batch = behaviour === 'chaotic' ? [...events].reverse() : events
      for (let i = 0; i < (behaviour === 'chaotic' ? 2 : 1); i++) {
        const r = await req(srv, this.identity, 'POST', '/v1/device/events', { events: batch })
        if (r.status !== 200) throw new Error(`events ${r.status}: ${JSON.stringify(r.json)}`)
      }
    }
    await send([ev('downloading')])
    if (behaviour === 'silent') return 'silent'
    await send([ev('installing'), ev('rebooting')])
    await send([ev('health-checking')])
    const ok = behaviour !== 'fail-health'
    const health = {
      id: randomUUID(),
      seq: ++this.seq,
      rolloutId: a.rolloutId,
      release: rel,
      bootOk: true,
      checks: [{ name: 'unit:llm-app', ok, ...(!ok && { output: 'llm-app.service: failed with result exit-code' }) }],
      metrics: { inference_p95_ms: 500 },
    }
    for (let i = 0; i < (behaviour === 'chaotic' ? 2 : 1); i++) {
      const h = await req(srv, this.identity, 'POST', '/v1/device/health', health)
      if (h.status !== 200) throw new Error(`health ${h.status}: ${JSON.stringify(h.json)}`)
    }
    if (!ok) {
      // the agent rolls back locally to the slot it came from
      await send([ev('rolled-back', { code: 'HEALTH_CHECK_FAILED', message: 'unit:llm-app failed' })])
      return 'failed'
    }
    await send([ev('succeeded')])
    this.runs.set(name, version)
    return 'installed'
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++
        if (i >= items.length) return
        out[i] = await fn(items[i]!, i)
      }
    }),
  )
  return out
}

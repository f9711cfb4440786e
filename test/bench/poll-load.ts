/**
 * The load generator of bench:poll, in its own process so that it does not share the
 * server's event loop (the machine has 2 cores: one for the server, one for this).
 * Receives { url, path, devices, seconds | amount, connections } over IPC, answers with the
 * autocannon figures and the status mix. Each request comes from the next device of
 * the pool (round robin) and carries the ETag that device last got, as an agent would.
 *
 * Key-bound devices sign every request (RFC 9421, a fresh nonce each: the server
 * refuses a replay). The signatures are made before the timed run starts, so that
 * the load generator's signing does not take CPU from the server during the round:
 * `presignPerSecond` × seconds of them (or `amount`). A run that outpaces them wraps
 * around, and its replays show as 401 in the status mix.
 */
import autocannon from 'autocannon'
import { FileDeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'

/** Who polls: old bearer credentials, or certificate serials whose devices all hold one shared key. */
export type PollDevices = { bearer: string[] } | { keyPem: string; serials: string[]; presignPerSecond: number }

export interface LoadJob {
  url: string
  path: string
  /** devices to spread requests over; none: no authorization header */
  devices?: PollDevices
  /** run this long, or (when given) send exactly `amount` requests */
  seconds: number
  amount?: number
  connections: number
  /** ETags devices already hold (credential → ETag), carried from one run to the next */
  etags?: Array<[string, string]>
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  total: number
  errors: number
  statuses: Record<string, number>
  etags: Array<[string, string]>
}

/** Each request's device and the headers that prove it, in the order they are sent. */
async function identities(job: LoadJob): Promise<Array<{ id: string; headers: Record<string, string> }>> {
  const d = job.devices
  if (!d) return []
  if ('bearer' in d) return d.bearer.map((c) => ({ id: c, headers: { authorization: `Bearer ${c}` } }))
  const key = FileDeviceKey.fromPem(d.keyPem)
  const n = job.amount ?? Math.ceil(job.seconds * d.presignPerSecond)
  const out = new Array<{ id: string; headers: Record<string, string> }>(n)
  for (let i = 0; i < n; i++) {
    const serial = d.serials[i % d.serials.length]!
    out[i] = { id: serial, headers: await signRequest(key, serial, { method: 'GET', target: job.path }) }
  }
  return out
}

async function load(job: LoadJob): Promise<LoadResult> {
  const etags = new Map<string, string>(job.etags)
  const statuses: Record<string, number> = {}
  const sends = await identities(job)
  let next = 0
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.seconds,
    ...(job.amount !== undefined && { amount: job.amount }),
    requests: [
      {
        method: 'GET',
        path: job.path,
        setupRequest: (req, context) => {
          if (!sends.length) return req
          const send = sends[next++ % sends.length]!
          context.cred = send.id
          const etag = etags.get(send.id)
          return { ...req, headers: { ...send.headers, ...(etag && { 'if-none-match': etag }) } }
        },
        onResponse: (status, body, context, headers) => {
          // a refusal is counted with its code (401/DEVICE_SIGNATURE_REPLAYED), so the mix says why
          const key = status >= 400 ? `${status}/${/"code":"([A-Z_]+)"/.exec(String(body))?.[1] ?? '?'}` : String(status)
          statuses[key] = (statuses[key] ?? 0) + 1
          if (headers.etag && typeof context.cred === 'string') etags.set(context.cred, headers.etag)
        },
      },
    ],
  })
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, errors: result.errors + result.timeouts, statuses, etags: [...etags] }
}

process.once('message', (job: LoadJob) => {
  load(job).then(
    (r) => process.send!(r, () => process.exit(0)),
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e}\n`)
      process.exit(1)
    },
  )
})

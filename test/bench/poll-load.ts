/**
 * The load generator of bench:poll, in its own process so that it does not share the
 * server's event loop (the machine has 2 cores: one for the server, one for this).
 * Receives { url, path, credentials, seconds | amount, connections } over IPC, answers with the
 * autocannon figures and the status mix. Each request carries the next credential of
 * the pool (round robin) and the ETag that device last got, as an agent would.
 */
import autocannon from 'autocannon'

export interface LoadJob {
  url: string
  path: string
  /** bearer credentials to spread requests over; empty: no authorization header */
  credentials: string[]
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

async function load(job: LoadJob): Promise<LoadResult> {
  const etags = new Map<string, string>(job.etags)
  const statuses: Record<string, number> = {}
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
          if (!job.credentials.length) return req
          const cred = job.credentials[next++ % job.credentials.length]!
          context.cred = cred
          const etag = etags.get(cred)
          return { ...req, headers: { authorization: `Bearer ${cred}`, ...(etag && { 'if-none-match': etag }) } }
        },
        onResponse: (status, _body, context, headers) => {
          statuses[status] = (statuses[status] ?? 0) + 1
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

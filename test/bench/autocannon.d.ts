// Just what test/bench/poll-load.ts uses of autocannon 8 (it ships no types).
declare module 'autocannon' {
  interface Stats {
    average: number
    p50: number
    p99: number
    max: number
  }
  interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    setupRequest?: (req: Request, context: Record<string, unknown>) => Request
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    amount?: number
    pipelining?: number
    requests?: Request[]
  }
  interface Result {
    requests: Stats & { total: number }
    latency: Stats
    errors: number
    timeouts: number
    non2xx: number
  }
  function autocannon(opts: Options): Promise<Result>
  export default autocannon
}

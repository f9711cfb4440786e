/**
 * The processes of deploy/compose.yaml, run directly on this machine with no container
 * engine: nginx (Debian's, with deploy/nginx.conf: TLS, no buffering, client
 * certificates forwarded), two `slipway start` replicas, `slipway worker` processes, a
 * fresh PostgreSQL database, a Redis key prefix and s3rver. Used by
 * test/e2e/stack.test.ts and by `npm run stack` (test/stack/run.ts).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Agent, setGlobalDispatcher } from 'undici'
import { slipway, waitForOutput } from './cli.js'
import { freePort } from './net.js'
import { startNginx, type RunningNginx } from './nginx.js'
import { freshPostgres } from './postgres.js'
import { REDIS_URL } from './scale-out.js'
import { startS3rver, type S3rverHandle } from './s3rver.js'
import { makeTls, type TlsFiles } from './tls.js'

type Run = ReturnType<typeof slipway>

export interface StackProcess {
  name: string
  run: Run
  /** its own base URL (replica API, or worker /metrics) */
  url: string
}

export interface Stack {
  /** https:// through nginx: what devices and CI use */
  url: string
  adminToken: string
  tls: TlsFiles
  s3: S3rverHandle
  /** the environment every slipway process shares (compose's x-slipway environment) */
  env: Record<string, string>
  /** the dev release key the first replica created (CI signs pushes with it) */
  releaseKey: string
  replicas: StackProcess[]
  workers: StackProcess[]
  nginx: RunningNginx
  startWorker(name?: string): Promise<StackProcess>
  /** SIGKILL, no grace: what a crashed machine does */
  kill9(p: StackProcess): Promise<void>
  stop(): Promise<void>
}

async function startReplica(name: string, env: Record<string, string>, dir: string): Promise<StackProcess> {
  const port = await freePort()
  const run = slipway(['start'], { ...env, PORT: String(port), SLIPWAY_DATA_DIR: join(dir, name) })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
    if (ok) return { name, run, url }
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${(await run.done).stderr}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

export async function startStack(dir: string, opts: { log?: (line: string) => void; logLevel?: string } = {}): Promise<Stack> {
  const log = opts.log ?? (() => {})
  const cleanup: Array<() => Promise<void>> = []
  const procs: StackProcess[] = []
  try {
    const tls = await makeTls(join(dir, 'tls'))
    // this process's fetch (test devices, CI calls) trusts the stack's certificate, as a device's CA bundle would
    setGlobalDispatcher(new Agent({ connect: { ca: [await readFile(tls.serverCert, 'utf8')] } }))
    const pg = await freshPostgres()
    cleanup.push(() => pg.drop())
    const s3 = await startS3rver()
    cleanup.push(() => s3.close())
    log(`postgres ${pg.url}\nredis ${REDIS_URL}\ns3rver ${s3.endPoint} bucket ${s3.bucket}`)
    const prefix = `slipway-stack-${randomBytes(4).toString('hex')}`
    cleanup.push(async () => {
      const { Redis } = await import('ioredis')
      const redis = new Redis(REDIS_URL)
      const keys = await redis.keys(`${prefix}:*`)
      if (keys.length) await redis.del(...keys)
      await redis.quit()
    })
    const adminToken = 'slw_' + randomBytes(32).toString('base64url')
    await mkdir(join(dir, 'keys'), { recursive: true })
    const env: Record<string, string> = {
      DATABASE_URL: pg.url,
      REDIS_URL,
      SLIPWAY_QUEUE_PREFIX: prefix,
      S3_ENDPOINT: s3.endPoint,
      S3_PUBLIC_ENDPOINT: s3.endPoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      SLIPWAY_ADMIN_TOKEN: adminToken,
      // compose shares the dev key folder between replicas and workers; so do we
      SLIPWAY_KEYS_DIR: join(dir, 'keys'),
      // nginx is the proxy whose X-Client-Cert the servers may trust
      SLIPWAY_TRUSTED_PROXIES: '127.0.0.1',
      SLIPWAY_ROLLOUT_TICK_SECONDS: '1',
      LOG_LEVEL: opts.logLevel ?? 'warn',
    }
    // the first replica creates the dev root and keys; the second finds them
    const r1 = await startReplica('server-1', env, dir)
    procs.push(r1)
    const r2 = await startReplica('server-2', env, dir)
    procs.push(r2)
    const nginx = await startNginx({ upstreams: [r1.url.slice(7), r2.url.slice(7)], tlsDir: tls.dir, prefix: join(dir, 'nginx') })
    cleanup.push(() => nginx.stop())
    const workers: StackProcess[] = []
    let n = 0
    const startWorker = async (name = `worker-${++n}`): Promise<StackProcess> => {
      const run = slipway(['worker'], { ...env, LOG_LEVEL: 'info', WORKER_PORT: '0', SLIPWAY_DATA_DIR: join(dir, name) })
      const out = await waitForOutput(run.child, (s) => /"url":"http:[^"]+".*worker started/.test(s), 60_000)
      const p = { name, run, url: /"url":"(http:[^"]+)"/.exec(out)![1]! }
      workers.push(p)
      procs.push(p)
      return p
    }
    await startWorker()
    const stack: Stack = {
      url: nginx.url,
      adminToken,
      tls,
      s3,
      env,
      releaseKey: join(dir, 'keys', 'release.pem'),
      replicas: [r1, r2],
      workers,
      nginx,
      startWorker,
      async kill9(p) {
        p.run.child.kill('SIGKILL')
        await p.run.done
      },
      async stop() {
        for (const p of procs) if (p.run.child.exitCode === null && p.run.child.signalCode === null) p.run.child.kill('SIGKILL')
        await Promise.all(procs.map((p) => p.run.done))
        for (const c of cleanup.reverse()) await c().catch(() => {})
      },
    }
    log(`nginx ${nginx.url} → ${r1.url}, ${r2.url}; worker metrics ${workers[0]!.url}/metrics`)
    return stack
  } catch (e) {
    for (const p of procs) p.run.child.kill('SIGKILL')
    for (const c of cleanup.reverse()) await c().catch(() => {})
    throw e
  }
}

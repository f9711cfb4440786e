/**
 * deploy/nginx.conf as shipped, run by the Debian nginx on this machine: the compose
 * service names become loopback upstreams, /etc/nginx/tls a test folder, and the
 * listen port one chosen here. Nothing else of the file changes, so what is tested is
 * the deployed TLS, buffering and header-forwarding configuration.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './net.js'

export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url))

export interface NginxRender {
  /** host:port of each replica, in place of server-1:8080, server-2:8080 */
  upstreams: string[]
  /** folder holding server.crt, server.key, device-ca.crt */
  tlsDir: string
  port: number
  /** nginx's prefix folder: pid, logs, temp files */
  prefix: string
  /** the blob folder of a file-mode server, in place of /var/lib/slipway/blobs/ */
  blobDir?: string
}

export function renderNginxConf(text: string, r: NginxRender): string {
  const upstream = /upstream slipway \{[^}]*\}/
  if (!upstream.test(text) || !text.includes('listen 443 ssl;') || !text.includes('/etc/nginx/tls/'))
    throw new Error('deploy/nginx.conf no longer has the upstream block, "listen 443 ssl;" or /etc/nginx/tls/ this helper rewrites')
  return text
    .replace(upstream, `upstream slipway {\n${r.upstreams.map((u) => `    server ${u};`).join('\n')}\n    keepalive 32;\n  }`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${r.port} ssl;`)
    .replaceAll('/etc/nginx/tls/', `${r.tlsDir}/`)
    .replace('alias /var/lib/slipway/blobs/;', `alias ${r.blobDir ?? '/var/lib/slipway/blobs'}/;`)
    .replace('events {}', `pid ${r.prefix}/nginx.pid;\nerror_log ${r.prefix}/error.log warn;\nevents {}`)
    .replace(
      'http {',
      `http {\n  access_log ${r.prefix}/access.log;\n  client_body_temp_path ${r.prefix}/body;\n  proxy_temp_path ${r.prefix}/proxy;\n` +
        `  fastcgi_temp_path ${r.prefix}/fastcgi;\n  uwsgi_temp_path ${r.prefix}/uwsgi;\n  scgi_temp_path ${r.prefix}/scgi;`,
    )
}

/** `nginx -t` on a rendered config; throws with nginx's message when it refuses it. */
export function nginxTest(confPath: string, prefix: string): string {
  return execFileSync('nginx', ['-t', '-q', '-p', prefix, '-e', join(prefix, 'error.log'), '-c', confPath], { stdio: 'pipe', encoding: 'utf8' })
}

export async function writeNginxConf(r: Omit<NginxRender, 'port'> & { port?: number }): Promise<{ conf: string; port: number }> {
  const port = r.port ?? (await freePort())
  await mkdir(r.prefix, { recursive: true })
  const conf = join(r.prefix, 'nginx.conf')
  await writeFile(conf, renderNginxConf(await readFile(NGINX_CONF, 'utf8'), { ...r, port }))
  return { conf, port }
}

export interface RunningNginx {
  url: string
  port: number
  child: ChildProcess
  stop(): Promise<void>
}

/** Starts nginx in the foreground (its own process group) with the deployed config rendered for this machine. */
export async function startNginx(r: Omit<NginxRender, 'port'>): Promise<RunningNginx> {
  const { conf, port } = await writeNginxConf(r)
  return runNginx(conf, r.prefix, port)
}

/** Checks `conf` (`nginx -t`), starts nginx on it in its own process group and waits until `port` accepts. */
export async function runNginx(conf: string, prefix: string, port: number): Promise<RunningNginx> {
  nginxTest(conf, prefix)
  const child = spawn('nginx', ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf, '-g', 'daemon off; master_process on;'], {
    stdio: 'ignore',
    detached: true,
  })
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  const deadline = Date.now() + 15_000
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), res(true)))
      s.on('error', () => res(false))
    })
    if (ok) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '')}`)
    await new Promise((res) => setTimeout(res, 100))
  }
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    child,
    async stop() {
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGTERM')
        await exited
      }
    },
  }
}

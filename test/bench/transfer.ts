/**
 * bench:transfer — push a large generated file through the real CLI to a real
 * server on the embedded defaults, then download it with 8 parallel ranged
 * requests. Baselines measured in the same run on the same machine: `dd` to disk
 * (with fdatasync, as the server syncs a blob before it is visible) for the upload,
 * `cat` of the stored blob to /dev/null for the download. Then the same download
 * through nginx with deploy/nginx.conf (TLS) and SLIPWAY_ACCEL_REDIRECT_PREFIX: the
 * server authorizes, nginx sends the file. Prints ratios and the server's peak RSS.
 *
 * `cat` to /dev/null reads the page cache at memory speed, which no transfer through a
 * socket reaches; so each download is also compared with the line rate of the same
 * transfer without Slipway: a bare nginx serving the blob folder as static files
 * (sendfile), over plain HTTP and over the same TLS certificate, fetched by the same
 * 8 ranged curls.
 *
 *   npm run bench:transfer                 # 2 GiB
 *   BENCH_SIZE_MIB=512 npm run bench:transfer
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/net.js'
import { rawTusRefusals } from './refusal-tus.js'
import { runNginx, startNginx } from '../helpers/nginx.js'
import { makeTls } from '../helpers/tls.js'

const BIN = fileURLToPath(new URL('../../server/bin/slipway.mjs', import.meta.url))
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 2048) * 1024 * 1024
const STREAMS = 8

const seconds = (f: () => void) => {
  const t0 = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - t0) / 1e9
}
const mbps = (bytes: number, s: number) => bytes / 1e6 / s

async function writeRandom(path: string, size: number) {
  const out = createWriteStream(path)
  const block = 8 * 1024 * 1024
  for (let done = 0; done < size; done += block) {
    const chunk = randomBytes(Math.min(block, size - done))
    if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()))
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())))
}


async function peakRssMiB(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024
}

/** A bare nginx serving `root` as static files on a plain and a TLS port (the line-rate baseline). */
async function startStaticNginx(prefix: string, root: string, tlsDir: string) {
  await mkdir(prefix, { recursive: true })
  const [plain, tls] = [await freePort(), await freePort()]
  const conf = join(prefix, 'static.conf')
  await writeFile(conf, `pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events {}
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:${plain};
    listen 127.0.0.1:${tls} ssl;
    ssl_certificate ${tlsDir}/server.crt;
    ssl_certificate_key ${tlsDir}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /v1/blobs/ { alias ${root}/; }
  }
}
`)
  const nginx = await runNginx(conf, prefix, tls)
  return { plain: `http://127.0.0.1:${plain}`, tls: nginx.url, stop: () => nginx.stop() }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-'))
  try {
    const file = join(dir, 'image.ext4')
    console.log(`generating ${SIZE / 2 ** 20} MiB of random data...`)
    await writeRandom(file, SIZE)

    const ddSeconds = seconds(() => execFileSync('dd', [`if=${file}`, `of=${join(dir, 'dd.out')}`, 'bs=4M', 'conv=fdatasync'], { stdio: 'ignore' }))
    await rm(join(dir, 'dd.out'))

    const port = await freePort()
    const admin = 'slw_' + randomBytes(32).toString('base64url')
    const env = { ...process.env, SLIPWAY_DATA_DIR: join(dir, 'data'), PORT: String(port), SLIPWAY_ADMIN_TOKEN: admin, LOG_LEVEL: 'warn' }
    const url = `http://127.0.0.1:${port}`
    const startSlipway = async (extra: Record<string, string> = {}) => {
      const child = spawn(process.execPath, [BIN, 'start'], { env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'inherit'] })
      for (let i = 0; ; i++) {
        try {
          if ((await fetch(`${url}/healthz`)).ok) return child
        } catch {
          if (i > 900) throw new Error('server did not start')
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    }
    let server = await startSlipway()
    try {
      const ci = execFileSync(process.execPath, [BIN, 'token', 'create', '--role', 'ci'], { env, encoding: 'utf8' }).trim()
      const pushEnv = { ...env, SLIPWAY_URL: url, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: join(dir, 'cli'), SLIPWAY_RELEASE_KEY: join(dir, 'data', 'keys', 'release.pem') }
      let out = ''
      const pushSeconds = seconds(() => {
        const r = spawnSync(
          process.execPath,
          [BIN, 'push', file, '--name', 'bench', '--version', '1.0.0', '--kind', 'os-image', '--hardware', 'rpi5'],
          { env: pushEnv, encoding: 'utf8' },
        )
        if (r.status !== 0) throw new Error(`push failed: ${r.stderr}`)
        out = r.stdout
      })
      const { sha256 } = JSON.parse(out) as { sha256: string }

      // What a refused or repeated push costs now; before the preflight each cost a whole push (pushSeconds).
      const stranger = join(dir, 'stranger.pem')
      execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', stranger])
      const base = [BIN, 'push', file, '--name', 'bench', '--kind', 'os-image']
      const refusals: Array<[string, string[], RegExp]> = [
        ['invalid version (1.1)', [...base, '--version', '1.1', '--hardware', 'rpi5'], /RELEASE_VERSION_INVALID/],
        ['unknown signing key', [...base, '--version', '1.0.1', '--hardware', 'rpi5', '--key', stranger], /SIGNATURE_UNKNOWN_KEY/],
        ['version exists, other hardware', [...base, '--version', '1.0.0', '--hardware', 'rpi4'], /RELEASE_EXISTS/],
        ['identical re-push (hash, no upload)', [...base, '--version', '1.0.0', '--hardware', 'rpi5'], /already published/],
      ]
      const startup = seconds(() => execFileSync(process.execPath, [BIN, '--help'], { stdio: 'ignore' }))
      const refused: Array<readonly [string, number]> = refusals.map(([label, args, expect]) => {
        let stderr = ''
        const s = seconds(() => {
          stderr = spawnSync(process.execPath, args, { env: pushEnv, encoding: 'utf8' }).stderr
        })
        if (!expect.test(stderr)) throw new Error(`${label}: unexpected answer: ${stderr}`)
        return [label, s] as const
      })
      // the raw tus path, then the provenance policy through the CLI (issue 17 / issue 12 §5)
      const setPolicy = async () => {
        const res = await fetch(`${url}/v1/releases/bench/policy`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ require: ['sourceRevision', 'builder'] }) })
        if (res.status !== 200) throw new Error(`policy: ${res.status} ${await res.text()}`)
      }
      const rawTus = await rawTusRefusals({ url, ciToken: ci, keyPath: pushEnv.SLIPWAY_RELEASE_KEY, strangerKeyPath: stranger, name: 'bench', sha256, size: SIZE }, setPolicy)
      let policyStderr = ''
      const policySeconds = seconds(() => {
        policyStderr = spawnSync(process.execPath, [...base, '--version', '1.0.7', '--hardware', 'rpi5'], { env: pushEnv, encoding: 'utf8' }).stderr
      })
      if (!/PROVENANCE_REQUIRED/.test(policyStderr)) throw new Error(`provenance policy: unexpected answer: ${policyStderr}`)
      refused.push(['provenance policy (before hashing)', policySeconds], ...rawTus)
      const blob = join(dir, 'data', 'blobs', 'sha256', sha256.slice(0, 2), sha256)

      const catSeconds = seconds(() => execFileSync('sh', ['-c', `cat '${blob}' > /dev/null`]))
      const part = Math.ceil(SIZE / STREAMS)
      const download = async (base: string, extra: string[] = []) => {
        const curlArgs = (i: number) => [
          '-sS', '-f', '-o', '/dev/null', ...extra, '-H', `authorization: Bearer ${ci}`,
          '-r', `${i * part}-${Math.min(SIZE, (i + 1) * part) - 1}`, `${base}/v1/blobs/${sha256}`,
        ]
        const t0 = process.hrtime.bigint()
        await Promise.all(
          Array.from({ length: STREAMS }, (_, i) =>
            new Promise<void>((resolve, reject) =>
              spawn('curl', curlArgs(i), { stdio: 'inherit' }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`curl exit ${code}`)))),
            ),
          ),
        )
        return Number(process.hrtime.bigint() - t0) / 1e9
      }
      const downloadSeconds = await download(url)
      const rss = await peakRssMiB(server.pid!)

      // the same server, now behind nginx with X-Accel-Redirect
      server.kill('SIGTERM')
      await new Promise((r) => server.once('close', r))
      server = await startSlipway({ SLIPWAY_ACCEL_REDIRECT_PREFIX: '/_slipway_blobs/' })
      const tls = await makeTls(join(dir, 'tls'))
      const nginx = await startNginx({ upstreams: [`127.0.0.1:${port}`], tlsDir: tls.dir, prefix: join(dir, 'nginx'), blobDir: join(dir, 'data', 'blobs') })
      const { chmod } = await import('node:fs/promises')
      await chmod(dir, 0o755) // nginx's workers run unprivileged
      let nginxSeconds: number
      try {
        nginxSeconds = await download(nginx.url, ['--cacert', tls.serverCert])
      } finally {
        await nginx.stop()
      }
      const catAgain = seconds(() => execFileSync('sh', ['-c', `cat '${blob}' > /dev/null`]))
      // the line rate without Slipway: the blob as a static file (its path under the blob folder stands for the id)
      const staticRoot = join(dir, 'static')
      await mkdir(staticRoot)
      await symlink(blob, join(staticRoot, sha256))
      const bare = await startStaticNginx(join(dir, 'nginx-static'), staticRoot, tls.dir)
      let barePlainSeconds: number, bareTlsSeconds: number
      try {
        barePlainSeconds = await download(bare.plain)
        bareTlsSeconds = await download(bare.tls, ['--cacert', tls.serverCert])
      } finally {
        await bare.stop()
      }

      const up = mbps(SIZE, pushSeconds)
      const dd = mbps(SIZE, ddSeconds)
      const down = mbps(SIZE, downloadSeconds)
      const cat = mbps(SIZE, catSeconds)
      console.log(`\nbench:transfer  ${SIZE / 2 ** 20} MiB, embedded defaults, ${STREAMS} ranged download streams`)
      console.log(`  upload   slipway push  ${up.toFixed(0).padStart(6)} MB/s   dd to disk ${dd.toFixed(0).padStart(6)} MB/s   ratio ${(up / dd).toFixed(2)}  (goal >= 0.50)`)
      console.log(`  download 8 x Range     ${down.toFixed(0).padStart(6)} MB/s   cat blob   ${cat.toFixed(0).padStart(6)} MB/s   ratio ${(down / cat).toFixed(2)}  (goal >= 0.70)`)
      const viaNginx = mbps(SIZE, nginxSeconds)
      const cat2 = mbps(SIZE, catAgain)
      console.log(`  download nginx+TLS, X-Accel-Redirect ${viaNginx.toFixed(0).padStart(6)} MB/s   cat blob   ${cat2.toFixed(0).padStart(6)} MB/s   ratio ${(viaNginx / cat2).toFixed(2)}  (goal >= 0.70)`)
      const barePlain = mbps(SIZE, barePlainSeconds), bareTls = mbps(SIZE, bareTlsSeconds)
      console.log(`  line rate (bare nginx, static file, same 8 curls): plain HTTP ${barePlain.toFixed(0)} MB/s, TLS ${bareTls.toFixed(0)} MB/s`)
      console.log(`    through Node (plain HTTP) ÷ bare nginx plain HTTP: ratio ${(down / barePlain).toFixed(2)}   (goal >= 0.70)`)
      console.log(`    nginx+TLS X-Accel-Redirect ÷ bare nginx TLS:       ratio ${(viaNginx / bareTls).toFixed(2)}   (goal >= 0.70)`)
      console.log(`  server peak RSS        ${rss.toFixed(0).padStart(6)} MiB  (goal < 250 MiB)`)
      console.log(`  refused or repeated pushes, against the whole push they used to cost (${pushSeconds.toFixed(1)} s); CLI start-up alone (slipway --help) ${startup.toFixed(2)} s:`)
      for (const [label, s] of refused) console.log(`    ${label.padEnd(36)} ${s.toFixed(2).padStart(6)} s   ratio ${(s / pushSeconds).toFixed(3)}${/identical/.test(label) ? '' : '  (goal < 1 s)'}`)
    } finally {
      server.kill('SIGTERM')
      await new Promise((r) => server.once('close', r))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()

/**
 * File mode behind nginx (deploy/nginx.conf): a blob download is authorized by the
 * server and sent by nginx from the blob folder (X-Accel-Redirect, sendfile), ranges
 * included; the internal location cannot be reached from outside.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Agent, setGlobalDispatcher } from 'undici'
import { readFile } from 'node:fs/promises'
import { call, sha256 } from '../helpers/api.js'
import { publish } from '../helpers/fleet.js'
import { startNginx } from '../helpers/nginx.js'
import { startServer } from '../helpers/server.js'
import { makeTls } from '../helpers/tls.js'

t.test('nginx sends the blob the server authorized', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-accel-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const srv = await startServer({ SLIPWAY_ACCEL_REDIRECT_PREFIX: '/_slipway_blobs/' })
  t.teardown(() => srv.close())
  // nginx's workers run as an unprivileged user: the data folder must be traversable, as /var/lib/slipway is
  await chmod(srv.config.dataDir, 0o755)
  const tls = await makeTls(join(dir, 'tls'))
  setGlobalDispatcher(new Agent({ connect: { ca: [await readFile(tls.serverCert, 'utf8')] } }))
  const nginx = await startNginx({ upstreams: [new URL(srv.url).host], tlsDir: tls.dir, prefix: join(dir, 'nginx'), blobDir: join(srv.config.dataDir, 'blobs') })
  t.teardown(() => nginx.stop())
  const data = randomBytes(3 * 1024 * 1024 + 17)
  const rel = await publish(srv, {}, data)
  const ci = await srv.token('ci')
  const path = `/v1/blobs/${rel.sha256}`

  const direct = await call(srv, ci, 'GET', path)
  t.equal(direct.status, 200)
  t.equal(direct.headers.get('x-accel-redirect'), `/_slipway_blobs/sha256/${rel.sha256.slice(0, 2)}/${rel.sha256}`, 'the server names the file')
  t.equal(direct.raw.length, 0, 'and sends no bytes itself')

  const proxied = { url: nginx.url } as typeof srv
  const full = await call(proxied, ci, 'GET', path)
  t.equal(full.status, 200)
  t.equal(sha256(full.raw), sha256(data), 'nginx sent the whole blob')
  t.equal(full.headers.get('x-accel-redirect'), null, 'the internal path stays inside nginx')
  const part = await call(proxied, ci, 'GET', path, undefined, { range: 'bytes=1000-1999' })
  t.equal(part.status, 206)
  t.ok(part.raw.equals(data.subarray(1000, 2000)), 'ranges are served by nginx')
  const denied = await call(proxied, undefined, 'GET', path)
  t.equal(denied.status, 401, 'the server still decides who may download')
  t.equal(denied.json.error.code, 'DEVICE_AUTH_MISSING')
  const inside = await call(proxied, ci, 'GET', `/_slipway_blobs/sha256/${rel.sha256.slice(0, 2)}/${rel.sha256}`)
  t.not(inside.status, 200, 'the internal location is not reachable from outside')
  t.not(sha256(inside.raw), sha256(data))
  const nm = await call(proxied, ci, 'GET', path, undefined, { 'if-none-match': `"${rel.sha256}"` })
  t.equal(nm.status, 304, 'If-None-Match still answered by the server')
})

/** Ops surface: liveness, readiness, Prometheus metrics, logs without secrets, graceful shutdown, OpenAPI docs. */
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { call, releaseBody, sha256, tusUpload } from '../helpers/api.js'
import { startServer } from '../helpers/server.js'

t.test('healthz, readyz, metrics, docs; logs never hold tokens', async (t) => {
  const lines: string[] = []
  const log = new PassThrough()
  log.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)))
  const srv = await startServer({}, log)
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')

  t.same((await call(srv, undefined, 'GET', '/healthz')).json, { status: 'ok' })
  const ready = await call(srv, undefined, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.same(ready.json.checks, { database: { ok: true }, blobs: { ok: true }, queue: { ok: true } })

  const data = randomBytes(200_000)
  const id = await tusUpload(srv, ci, data)
  t.equal((await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, id, data))).status, 201)
  await call(srv, ci, 'GET', `/v1/blobs/${sha256(data)}`)
  await call(srv, 'slw_not-a-real-token', 'GET', '/v1/releases')

  const metrics = await call(srv, undefined, 'GET', '/metrics')
  t.match(metrics.headers.get('content-type'), /text\/plain/)
  const text = metrics.raw.toString('utf8')
  t.match(text, /slipway_upload_bytes_total 200000\b/, 'upload bytes counted')
  t.match(text, /slipway_download_bytes_total 200000\b/)
  t.match(text, /slipway_http_request_duration_seconds_count\{method="POST",route="\/v1\/releases",status="201"\} 1/)
  t.match(text, /slipway_queue_jobs\{job="reclaim-uploads",state="\w+"\}/, 'queue depth exported')

  const docs = await call(srv, undefined, 'GET', '/docs/json')
  t.equal(docs.status, 200)
  t.ok(docs.json.paths['/v1/releases'].post, 'OpenAPI lists the release push')
  t.ok(docs.json.paths['/v1/blobs/{sha256}'].get)

  await new Promise((r) => setImmediate(r))
  t.ok(lines.length > 5, 'structured logs were written')
  for (const l of lines) JSON.parse(l)
  const all = lines.join('\n')
  t.notOk(all.includes(ci), 'the CI token never reaches the log')
  t.notOk(all.includes(srv.adminToken), 'the admin token never reaches the log')
  t.notOk(all.includes('slw_not-a-real-token'), 'nor a rejected one')
})

t.test('readyz reports a dependency that is down', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await srv.container.repos.close()
  const ready = await call(srv, undefined, 'GET', '/readyz')
  t.equal(ready.status, 503)
  t.equal(ready.json.checks.database.ok, false)
  t.equal(ready.json.checks.blobs.ok, true)
  // reopen so close() in teardown has a live handle to end
  const { openRepositories } = await import('../../server/adapters/db/index.js')
  srv.container.repos = await openRepositories({ sqlitePath: `${srv.config.dataDir}/slipway.db` })
})

t.test('graceful shutdown finishes an in-flight download', async (t) => {
  const srv = await startServer()
  const ci = await srv.token('ci')
  const data = randomBytes(24 * 1024 * 1024)
  const id = await tusUpload(srv, ci, data)
  t.equal((await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, id, data))).status, 201)

  const res = await fetch(`${srv.url}/v1/blobs/${sha256(data)}`, { headers: { authorization: `Bearer ${ci}` } })
  const reader = res.body!.getReader()
  const first = await reader.read()
  t.ok(first.value && first.value.length > 0, 'download started')
  const closed = srv.close()
  // read the rest, pausing now and then, while the server is closing
  const chunks: Uint8Array[] = [first.value!]
  for (;;) {
    if (chunks.length % 200 === 0) await new Promise((r) => setTimeout(r, 20))
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  await closed
  t.ok(Buffer.concat(chunks).equals(data), 'all bytes arrived, intact, after close() began')
  await t.rejects(fetch(`${srv.url}/healthz`), { message: 'fetch failed', cause: { code: 'ECONNREFUSED' } }, 'no new connections after shutdown')
})

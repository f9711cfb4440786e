/** CI push over real HTTP: tus upload, release binding, ranged download. */
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import t from 'tap'
import { sha256 as sha, tusUpload as upload } from '../helpers/api.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { signReleaseFor } from '../helpers/trust.js'

// raw fetch (not helpers/api.call) on purpose: this test reads bodies as a device would
const api = (srv: TestServer, token: string | undefined, path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...(init.headers ?? {}) },
  })

t.test('push a release and fetch it back by range', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const data = randomBytes(1024 * 1024 + 17)
  const uploadId = await upload(srv, ci, data)
  t.match(uploadId, /^[0-9a-f]{32}$/)

  const fields = {
    name: 'rootfs',
    version: '1.4.0',
    kind: 'os-image',
    hardware: ['rpi5'],
    sha256: sha(data),
    length: data.length,
    securityVersion: 1,
    provenance: { sourceRevision: 'abc', builder: 'test' },
  }
  const body = { uploadId, ...fields, metadata: await signReleaseFor(srv, fields) }
  const res = await api(srv, ci, '/v1/releases', { method: 'POST', body: JSON.stringify(body) })
  t.equal(res.status, 201)
  const release = (await res.json()) as { id: string; sha256: string }
  t.equal(release.sha256, sha(data))
  t.same(await readdir(srv.config.uploadDir), [], 'the staged upload is gone once bound')

  const again = await api(srv, ci, '/v1/releases', { method: 'POST', body: JSON.stringify({ ...body, uploadId: await upload(srv, ci, data) }) })
  t.equal(again.status, 200, 'identical re-push is idempotent')
  t.equal(((await again.json()) as { id: string }).id, release.id)

  const op = await srv.token('operator')
  const full = await api(srv, op, `/v1/blobs/${sha(data)}`)
  t.equal(full.status, 200)
  t.equal(full.headers.get('etag'), `"${sha(data)}"`)
  t.ok(Buffer.from(await full.arrayBuffer()).equals(data))

  const part = await api(srv, op, `/v1/blobs/${sha(data)}`, { headers: { range: 'bytes=100-199' } })
  t.equal(part.status, 206)
  t.equal(part.headers.get('content-range'), `bytes 100-199/${data.length}`)
  t.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200)))
})
